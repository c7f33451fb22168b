export { Worker, serve, type AnyTask, type WorkerStats } from "./worker.js";
export type { WorkerOptions, RunOutcome } from "./options.js";
