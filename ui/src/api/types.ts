/**
 * The JSON API's shapes: the proto3 JSON mapping of taskwire.v1 (see
 * proto/taskwire/v1/*.proto). Field names are lowerCamelCase, enums are their
 * names, timestamps RFC 3339 strings, bytes base64. Fields at their default
 * value may be absent, so everything is optional; 64-bit integers may come
 * as strings (the mapping) or numbers (what ts-proto writes).
 */

export const RUN_STATES = [
  "RUN_STATE_SCHEDULED",
  "RUN_STATE_PENDING",
  "RUN_STATE_RUNNING",
  "RUN_STATE_AWAITING_RETRY",
  "RUN_STATE_COMPLETED",
  "RUN_STATE_FAILED",
  "RUN_STATE_CANCELLED",
] as const;
export type RunState = (typeof RUN_STATES)[number] | "RUN_STATE_UNSPECIFIED";

export type Int64 = string | number;

export interface Payload {
  contentType?: string;
  /** base64 */
  data?: string;
}

export interface Failure {
  type?: string;
  message?: string;
  stack?: string;
  retryable?: boolean;
}

export type AttemptOutcome =
  | "ATTEMPT_OUTCOME_UNSPECIFIED"
  | "ATTEMPT_OUTCOME_RUNNING"
  | "ATTEMPT_OUTCOME_SUCCEEDED"
  | "ATTEMPT_OUTCOME_FAILED"
  | "ATTEMPT_OUTCOME_CRASHED"
  | "ATTEMPT_OUTCOME_TIMED_OUT"
  | "ATTEMPT_OUTCOME_CANCELLED";

export interface Attempt {
  number?: number;
  workerId?: string;
  startedAt?: string;
  finishedAt?: string;
  outcome?: AttemptOutcome;
  error?: Failure;
}

export interface Progress {
  fraction?: number;
  message?: string;
}

export interface LogLine {
  time?: string;
  level?: string;
  message?: string;
  attempt?: number;
}

export interface RetryPolicy {
  maxRetries?: number;
  initialDelayMs?: Int64;
  backoffMultiplier?: number;
  maxDelayMs?: Int64;
  jitter?: number;
  delaysMs?: Int64[];
  retryOn?: string[];
  neverRetryOn?: string[];
}

export interface SubmitOptions {
  idempotencyKey?: string;
  queue?: string;
  priority?: number;
  retry?: RetryPolicy;
  timeoutMs?: Int64;
  scheduledAt?: string;
  delayMs?: Int64;
  labels?: Record<string, string>;
  cacheKey?: string;
  cacheTtlMs?: Int64;
  concurrencyKey?: string;
  scheduleToStartTimeoutMs?: Int64;
  waitFor?: string[];
}

export type EventType =
  | "EVENT_TYPE_UNSPECIFIED"
  | "EVENT_TYPE_SUBMITTED"
  | "EVENT_TYPE_STARTED"
  | "EVENT_TYPE_COMPLETED"
  | "EVENT_TYPE_FAILED"
  | "EVENT_TYPE_RETRY_SCHEDULED"
  | "EVENT_TYPE_CRASHED"
  | "EVENT_TYPE_CANCEL_REQUESTED"
  | "EVENT_TYPE_CANCELLED"
  | "EVENT_TYPE_TIMED_OUT"
  | "EVENT_TYPE_CACHED"
  | "EVENT_TYPE_PROGRESS"
  | "EVENT_TYPE_LOG"
  | "EVENT_TYPE_EXPIRED"
  | "EVENT_TYPE_RELEASED"
  | "EVENT_TYPE_RESUBMITTED";

export interface TaskRun {
  id: string;
  task?: string;
  state?: RunState;
  args?: Payload;
  result?: Payload;
  error?: Failure;
  attempt?: number;
  options?: SubmitOptions;
  createdAt?: string;
  scheduledAt?: string;
  startedAt?: string;
  finishedAt?: string;
  updatedAt?: string;
  nextAttemptAt?: string;
  attempts?: Attempt[];
  cached?: boolean;
  cancelRequested?: boolean;
  workerId?: string;
  progress?: Progress;
  queue?: string;
  revision?: Int64;
  lastEvent?: EventType;
  traceParent?: string;
  logs?: LogLine[];
  resultRef?: string;
  namespace?: string;
}

export interface RunEvent {
  cursor?: string;
  runId?: string;
  task?: string;
  type?: EventType;
  state?: RunState;
  attempt?: number;
  time?: string;
  run?: TaskRun;
  log?: LogLine;
}

export interface StreamEventsResponse {
  event?: RunEvent;
  heartbeat?: { time?: string; cursor?: string };
}

export interface ListRunsResponse {
  runs?: TaskRun[];
  nextPageToken?: string;
}

export interface SubmitRequest {
  task?: string;
  args?: Payload;
  options?: SubmitOptions;
}

export interface Schedule {
  name: string;
  cron?: string;
  timezone?: string;
  run?: SubmitRequest;
  paused?: boolean;
  nextFireAt?: string;
  lastFiredAt?: string;
  lastRunId?: string;
  createdAt?: string;
}

export interface QueueInfo {
  queue?: string;
  task?: string;
  depth?: Int64;
  oldestWaitingAgeSeconds?: number;
  ackPending?: Int64;
  /** Live workers serving this task on this queue. */
  workers?: number;
}

export interface WorkerInfo {
  id: string;
  host?: string;
  pid?: number;
  tasks?: string[];
  queues?: string[];
  concurrency?: number;
  running?: number;
  runIds?: string[];
  lastSeen?: string;
  startedAt?: string;
  intervalMs?: number;
}

/** What `/ui/config.json` serves. */
export interface UiConfig {
  /** URL template of a trace, with `{traceId}`; empty: no trace links. */
  traceUrl?: string;
}
