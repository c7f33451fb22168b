import { randomBytes } from "node:crypto";
import type { HeldRun, RetryPolicy, SubmitOptions, WorkerHello, WorkerTask } from "@taskwire/protocol";
import { DEFAULT_QUEUE, QUEUE_NAME_RE, TASK_NAME_RE, type TaskSpec } from "@taskwire/core";
import { BrokerError } from "../errors.js";

const invalid = BrokerError.invalid;

/** Worker ids: what a stranger's SDK would make of a host name, a pid and a random suffix. */
const WORKER_ID_RE = /^[A-Za-z0-9._:@-]{1,128}$/;
const MAX_TASKS = 1_000;
const MAX_CONCURRENCY = 10_000;
/** Longest timeout a task may declare, in ms (about 10 years; JavaScript timers are armed in steps beyond 2^31 ms). */
const MAX_TIMEOUT_MS = 10 * 365 * 86_400_000;

/** A task a remote worker serves, as the broker executes it on the worker's behalf. */
export interface RemoteTask {
  spec: TaskSpec;
  /** Global concurrency limit (the task consumer's max_ack_pending); 0 = none. */
  concurrencyLimit: number;
}

/** A validated WorkerHello. */
export interface SessionSpec {
  workerId: string;
  tasks: Map<string, RemoteTask>;
  queues: string[];
  concurrency: number;
  sdk: string;
  /** Runs the worker still executes from an earlier session. */
  running: HeldRun[];
}

function count(field: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw invalid(field, `must be ${min}–${max}, got ${v}`);
}

function checkRetry(r: RetryPolicy, f: string): void {
  count(`${f}.max_retries`, r.maxRetries, 0, 100);
  count(`${f}.initial_delay_ms`, r.initialDelayMs, 0, MAX_TIMEOUT_MS);
  count(`${f}.max_delay_ms`, r.maxDelayMs, 0, MAX_TIMEOUT_MS);
  if (!(r.backoffMultiplier >= 0 && r.backoffMultiplier <= 100)) throw invalid(`${f}.backoff_multiplier`, `must be 0–100, got ${r.backoffMultiplier}`);
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw invalid(`${f}.jitter`, `must be between 0 and 1, got ${r.jitter}`);
  r.delaysMs.forEach((d, i) => count(`${f}.delays_ms[${i}]`, d, 0, MAX_TIMEOUT_MS));
}

/** The task's declared options as the run options a claim fills in where a run has none. */
function defaultsOf(t: WorkerTask): SubmitOptions {
  return {
    idempotencyKey: "",
    queue: "",
    priority: 0,
    retry: t.retry,
    timeoutMs: t.timeoutMs,
    scheduledAt: undefined,
    delayMs: 0,
    labels: {},
    cacheKey: "",
    cacheTtlMs: 0,
    refreshCache: false,
    concurrencyKey: "",
    scheduleToStartTimeoutMs: t.scheduleToStartTimeoutMs,
    waitFor: [],
    runIfDependenciesFail: false,
  };
}

function taskOf(t: WorkerTask, i: number): RemoteTask {
  const f = `hello.tasks[${i}]`;
  if (!TASK_NAME_RE.test(t.name)) throw invalid(`${f}.name`, `"${t.name.slice(0, 140)}" is not a valid task name: use 1–128 characters of letters, digits, "-" and "_"`);
  if (t.retry) checkRetry(t.retry, `${f}.retry`);
  count(`${f}.timeout_ms`, t.timeoutMs, 0, MAX_TIMEOUT_MS);
  count(`${f}.schedule_to_start_timeout_ms`, t.scheduleToStartTimeoutMs, 0, MAX_TIMEOUT_MS);
  count(`${f}.concurrency_limit`, t.concurrencyLimit, 0, 1_000_000);
  count(`${f}.key_concurrency_limit`, t.keyConcurrencyLimit, 0, 1_000_000);
  const rl = t.rateLimit;
  if (rl) {
    count(`${f}.rate_limit.limit`, rl.limit, 1, 1_000);
    count(`${f}.rate_limit.interval_ms`, rl.intervalMs, 1, 86_400_000);
  }
  return {
    spec: {
      name: t.name,
      defaults: defaultsOf(t),
      rateLimit: rl ? { limit: rl.limit, intervalMs: rl.intervalMs, perKey: rl.perKey } : undefined,
      keyConcurrencyLimit: t.keyConcurrencyLimit,
    },
    concurrencyLimit: t.concurrencyLimit,
  };
}

/**
 * Checks a worker's first message and turns it into the session's spec;
 * INVALID_ARGUMENT names the first bad field and says what is expected.
 */
export function validateHello(hello: WorkerHello | undefined): SessionSpec {
  if (!hello) throw invalid("hello", "is required: the first message of WorkerService/Connect must be a WorkerHello naming the worker's tasks");
  const workerId = hello.workerId || `remote-${randomBytes(6).toString("hex")}`;
  if (!WORKER_ID_RE.test(workerId)) throw invalid("hello.worker_id", `"${workerId.slice(0, 140)}" is not a valid worker id: use 1–128 characters of letters, digits and . _ : @ -`);
  if (hello.tasks.length === 0) throw invalid("hello.tasks", "is empty: name at least one task the worker executes");
  if (hello.tasks.length > MAX_TASKS) throw invalid("hello.tasks", `has ${hello.tasks.length} tasks; the limit is ${MAX_TASKS}`);
  const tasks = new Map<string, RemoteTask>();
  hello.tasks.forEach((t, i) => {
    if (tasks.has(t.name)) throw invalid(`hello.tasks[${i}].name`, `task "${t.name}" is listed twice`);
    tasks.set(t.name, taskOf(t, i));
  });
  const queues = hello.queues.length > 0 ? [...new Set(hello.queues)] : [DEFAULT_QUEUE];
  queues.forEach((q, i) => {
    if (!QUEUE_NAME_RE.test(q)) throw invalid(`hello.queues[${i}]`, `"${q.slice(0, 70)}" is not a valid queue name: use 1–64 characters of a-z, 0-9 and "-"`);
  });
  count("hello.concurrency", hello.concurrency, 1, MAX_CONCURRENCY);
  if (hello.running.length > hello.concurrency) throw invalid("hello.running", `lists ${hello.running.length} runs, more than the worker's concurrency of ${hello.concurrency}`);
  return { workerId, tasks, queues, concurrency: hello.concurrency, sdk: hello.sdk.slice(0, 128), running: hello.running };
}
