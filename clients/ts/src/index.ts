// Public surface of @taskwire/client: an allow-list.
export { task, isTaskDefinition, type TaskDefinition, type AnyTaskDefinition, type TaskFn } from "./task.js";
export { Client, getDefaultClient, setDefaultClient, type AutomationInput, type ClientConfig, type ListRunsOptions, type StreamEventsOptions, type SubmitOutcome } from "./client.js";
export { RunHandle, waitAll, asCompleted, isTerminalState } from "./handle.js";
export { context, type TaskContext, type TaskLogger } from "./context.js";
export type { ApplyOptions, TaskOptions, RetryOptions } from "./options.js";
export type { CallRetry } from "./retry.js";
export type { TlsOptions } from "./tls.js";
export {
  TaskwireError,
  RunFailedError,
  RunCancelledError,
  ResultTimeoutError,
  NonRetryableError,
  RetryAfterError,
  Status,
  isNotFound,
  isInvalidArgument,
  isUnavailable,
} from "./errors.js";
export { encodeArgs, encodeJson, decodeJson, decodeArgs, JSON_CONTENT_TYPE } from "./payload.js";
export { RunState, EventType, AttemptOutcome, TriggerEvent, type Automation, type Schedule, type TaskRun, type RunEvent, type Failure, type Payload } from "@taskwire/protocol";
