// For taskwire's own packages (CLI) and tests; not a public API.
export { resolveOptions, workerSettings, type ResolvedWorkerOptions } from "./options.js";
