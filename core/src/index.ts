export * from "./layout.js";
export * from "./codec.js";
export * from "./errors.js";
export { NatsHandle, type NatsOptions } from "./connection.js";
export { ensureResources, type ResourceOptions, type Resources } from "./resources.js";
export { RunStore, type StoredRun, type Decision } from "./store.js";
export * from "./tracing.js";
export * from "./ids.js";
export { listKeys, updateJson } from "./kv.js";
