import { createHash } from "node:crypto";

/**
 * The NATS layout every taskwire process agrees on. A worker written in
 * another language needs only this file and proto/ to interoperate.
 */

/** Stream holding queued runs; WorkQueue retention, so an acked run is gone. */
export const RUNS_STREAM = "TASKWIRE_RUNS";
/** Subject prefix of queued runs: `taskwire.run.<queue>.<task>`. */
export const RUN_SUBJECT_PREFIX = "taskwire.run";
/** Stream holding delayed runs until they are due: `taskwire.sched.<run id>`. */
export const SCHEDULED_STREAM = "TASKWIRE_SCHEDULED";
export const SCHEDULED_SUBJECT_PREFIX = "taskwire.sched";
/** Durable consumer of the scheduled stream, shared by all brokers. */
export const SCHEDULER_CONSUMER = "taskwire-scheduler";
/** KV bucket of run records: key = run id, value = TaskRun (protobuf). */
export const RUNS_BUCKET = "taskwire_runs";
/** The stream behind RUNS_BUCKET; its sequence numbers are event cursors. */
export const RUNS_BUCKET_STREAM = `KV_${RUNS_BUCKET}`;
/** KV bucket mapping (task, idempotency key) → run id for the retention period. */
export const IDEMPOTENCY_BUCKET = "taskwire_idempotency";
/** KV bucket of cached results: key = sha256(task, cache key), value = CacheEntry. */
export const CACHE_BUCKET = "taskwire_cache";
/** Object Store of results above the inline limit: object name = run id. */
export const RESULTS_STORE = "taskwire_results";
/** KV bucket of cron schedules: key = schedule name, value = Schedule. */
export const SCHEDULES_BUCKET = "taskwire_schedules";
/** KV bucket of rate-limit windows: key = rate.<hash(task[, key])>, value = recent start times. */
export const LIMITS_BUCKET = "taskwire_limits";
/** KV bucket of live workers: key = worker id, value = WorkerRecord (JSON, worker-registry.ts); max_age 30 s. */
export const WORKERS_BUCKET = "taskwire_workers";
/** KV bucket of automations: key = name (`<namespace>.<name>` outside namespace "default"), value = Automation (protobuf). */
export const AUTOMATIONS_BUCKET = "taskwire_automations";
/** KV bucket of what each automation did and is counting (cool-down, threshold window, firings in flight): same keys, JSON. */
export const AUTOMATION_STATE_BUCKET = "taskwire_automation_state";
/** Durable consumer of the run records' stream (RUNS_BUCKET_STREAM) that every broker shares to match automations: each event to one broker. */
export const AUTOMATIONS_CONSUMER = "taskwire-automations";
/** Queue of the automations' action runs, executed by the brokers (see AUTOMATION_TASKS). */
export const AUTOMATION_QUEUE = "taskwire-automations";
/** The built-in tasks the brokers execute on AUTOMATION_QUEUE, one per kind of action. */
export const AUTOMATION_TASKS = {
  webhook: "taskwire-webhook",
  chat: "taskwire-chat",
  cancelRun: "taskwire-cancel-run",
  retryRun: "taskwire-retry-run",
  pauseSchedule: "taskwire-pause-schedule",
  checkRunning: "taskwire-check-running",
} as const;
/** Key in LIMITS_BUCKET of the lease that picks the one broker exporting queue metrics. */
export const QUEUE_METRICS_LEASE_KEY = "lease.queue-metrics";
/**
 * Stream of the run index (broker/src/listing/): one message per created
 * run, subject `taskwire.idx.<namespace>.<queue>.<task>`, data = the run id,
 * `Nats-Msg-Id` = the run id. Limits retention with `max_age` = the
 * retention of run records; ListRuns reads it backwards by sequence.
 */
export const INDEX_STREAM = "TASKWIRE_INDEX";
export const INDEX_SUBJECT_PREFIX = "taskwire.idx";

/** The index subject of runs of `task` on `queue` in `namespace` (all three are subject-token safe: see their patterns). */
export function indexSubject(namespace: string, queue: string, task: string): string {
  return `${INDEX_SUBJECT_PREFIX}.${namespace || "default"}.${queue || DEFAULT_QUEUE}.${task}`;
}

/** The index subjects of a listing: one namespace, a queue and a task or any ("" → `*`). */
export function indexFilter(namespace: string, queue: string, task: string): string {
  return `${INDEX_SUBJECT_PREFIX}.${namespace || "default"}.${queue || "*"}.${task || "*"}`;
}

/** Core-NATS subject a broker publishes on to abort a running run: `taskwire.cancel.<run id>`. */
export const CANCEL_SUBJECT_PREFIX = "taskwire.cancel";

/** Revisions kept per run record (the NATS maximum); older events age out. */
export const RECORD_HISTORY = 64;

export const TASK_NAME_RE = /^[A-Za-z0-9_-]{1,128}$/;
export const QUEUE_NAME_RE = /^[a-z0-9-]{1,64}$/;
export const DEFAULT_QUEUE = "default";

/**
 * Priority levels. SubmitOptions.priority > 0 is high, < 0 low, 0 normal.
 * Normal runs keep the plain subject; high and low ones get a suffix, so
 * each level has its own consumer and a worker can take the highest first.
 */
export type PriorityLevel = "high" | "normal" | "low";
export const PRIORITY_LEVELS: readonly PriorityLevel[] = ["high", "normal", "low"];

export function priorityLevel(priority: number): PriorityLevel {
  return priority > 0 ? "high" : priority < 0 ? "low" : "normal";
}

export function runSubject(queue: string, task: string, level: PriorityLevel = "normal"): string {
  const base = `${RUN_SUBJECT_PREFIX}.${queue}.${task}`;
  return level === "normal" ? base : `${base}.${level}`;
}

export function scheduledSubject(runId: string): string {
  return `${SCHEDULED_SUBJECT_PREFIX}.${runId}`;
}

/** The schedule-to-start deadline of a run: the scheduler expires it then if it has not started. */
export function expirySubject(runId: string): string {
  return `${SCHEDULED_SUBJECT_PREFIX}.${runId}.expire`;
}

export function cancelSubject(runId: string): string {
  return `${CANCEL_SUBJECT_PREFIX}.${runId}`;
}

/** KV subject of one run record, for core subscriptions and filtered consumers. */
export function recordSubject(runId: string): string {
  return `$KV.${RUNS_BUCKET}.${runId}`;
}

export const ALL_RECORDS_SUBJECT = `$KV.${RUNS_BUCKET}.>`;

/**
 * Durable consumer shared by every worker serving `task` on `queue`. Queue
 * names cannot contain "_", so the first "_" after the prefix separates
 * queue and task unambiguously.
 */
export function taskConsumerName(queue: string, task: string, level: PriorityLevel = "normal"): string {
  // The prefix differs per level before the first "_", so names stay unambiguous.
  const prefix = level === "normal" ? "tw" : level === "high" ? "twh" : "twl";
  return `${prefix}_${queue}_${task}`;
}

/** The namespace of a record: "default" for records written before namespaces existed. */
export function namespaceOf(run: { namespace: string }): string {
  return run.namespace || "default";
}

/**
 * KV key of a cache entry: a hash, so any cache key (any characters, any
 * length) is a valid KV key. A namespace other than "default" is hashed in
 * too, so namespaces never share cached results; "default" keeps the hash
 * entries had before namespaces existed.
 */
export function cacheEntryKey(task: string, cacheKey: string, namespace = "default"): string {
  const h = createHash("sha256");
  if (namespace && namespace !== "default") h.update(namespace).update("\0");
  return h.update(task).update("\0").update(cacheKey).digest("hex");
}

/** KV key of an idempotency key, namespaced like cacheEntryKey. */
export function idempotencyEntryKey(task: string, key: string, namespace = "default"): string {
  return cacheEntryKey(task, key, namespace);
}
