// WorkerService: remote workers (any language) execute runs through the
// broker, which does their NATS side with core's execution helpers.
export { RemoteWorkers, type RemoteWorkerSettings } from "./registry.js";
export { createWorkerService, ANONYMOUS_WORKER, type AuthorizeWorker, type WorkerCaller } from "./service.js";
