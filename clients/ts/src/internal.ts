// For taskwire's own packages (worker, broker, CLI) and tests; not a public API.
export { runWithContext } from "./context.js";
export { toSubmitOptions } from "./options.js";
export { TASK_BRAND } from "./task.js";
