// Re-exports of the ts-proto code generated from proto/ (`make generate`).
export * from "./taskwire/v1/types.js";
export * from "./taskwire/v1/automation.js";
export * from "./taskwire/v1/taskwire.js";
export * from "./taskwire/v1/worker.js";
export { Timestamp } from "./google/protobuf/timestamp.js";
