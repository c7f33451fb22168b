import type { RetryPolicy, SubmitOptions } from "@taskwire/protocol";

/**
 * Retry policy of a task. A task without one does not retry on errors (a
 * crashed worker's attempt is always retried; see the README's guarantees).
 */
export interface RetryOptions {
  /** Retries after the first attempt. @default 0 */
  retries?: number;
  /** Delay before the first retry, in ms. @default 1_000 */
  initialDelayMs?: number;
  /** Growth factor between retries; 1 = fixed delay. @default 2 */
  backoffMultiplier?: number;
  /** Cap of one delay, in ms. @default 60_000 */
  maxDelayMs?: number;
  /** Random spread of each delay, 0–1 (0.2 = ±20 %). @default 0 */
  jitter?: number;
  /** Explicit delays per retry in ms (the last repeats); overrides the exponential settings. */
  retryDelaysMs?: number[];
  /** Retry only errors whose type (error name) is listed. @default any type */
  retryOn?: string[];
  /** Never retry errors whose type (error name) is listed. */
  neverRetryOn?: string[];
}

/** Options a task definition carries as defaults; every one can be overridden per call. */
export interface TaskOptions extends RetryOptions {
  /** Queue the task's runs go to (workers choose queues). @default "default" */
  queue?: string;
  /** Execution timeout of one attempt, in ms; the task's signal aborts. @default none */
  timeoutMs?: number;
  /** Expire a run that has not started this many ms after it became due. @default never */
  scheduleToStartTimeoutMs?: number;
  /** Labels attached to every run. */
  labels?: Record<string, string>;
  /** Priority; higher starts first under a backlog. @default 0 */
  priority?: number;
  /** Cache result validity, in ms; 0 disables caching. Without cacheKey the arguments are the key. @default 0 */
  cacheTtlMs?: number;
  /**
   * Most runs of this task executing at once across all workers (enforced
   * by the server as the task consumer's max_ack_pending; set by the
   * workers serving the task). Not a per-call option. @default unlimited
   */
  concurrencyLimit?: number;
  /**
   * At most `limit` starts of this task in any `intervalMs` window, across
   * all workers (a sliding window kept in NATS KV). With `perKey`, the
   * window is per the run's `concurrencyKey` (e.g. per customer). A run over
   * the limit waits in the queue. Enforced by the workers; not a per-call
   * option. @default unlimited
   */
  rateLimit?: { limit: number; intervalMs: number; perKey?: boolean };
  /**
   * Most runs of this task executing at once per `concurrencyKey` (e.g. at
   * most 2 per customer), across all workers. Slots are leases in NATS KV,
   * renewed by the heartbeat, so a dead worker's slots free up within 2 ×
   * its heartbeat interval. Runs without a key are not limited. Enforced by
   * the workers; not a per-call option. @default unlimited
   */
  keyConcurrencyLimit?: number;
  /**
   * Where an attempt runs. "inline" (default): in the worker's event loop; a
   * timeout or cancel aborts the signal, and a function that ignores it keeps
   * running in the background after its attempt is recorded. "thread": in a
   * worker thread that is terminated when the signal is not obeyed within
   * 2 s — a hard stop, also for CPU-bound code, at the cost of a thread start
   * (~30 ms) per attempt. The task must be exported from its module.
   * @default "inline"
   */
  isolation?: "inline" | "thread";
}

/** Per-call options of `applyAsync` and `Client.submit`. */
export interface ApplyOptions extends TaskOptions {
  /** Same key (for the same task) → same run, for the whole retention period. */
  idempotencyKey?: string;
  /** Start no earlier than this many ms from now (state SCHEDULED until then). */
  delayMs?: number;
  /** Start no earlier than this time. */
  scheduledAt?: Date;
  /** Cache key; with cacheTtlMs, a completed run with the same key answers without executing. */
  cacheKey?: string;
  /** Execute even on a cache hit and replace the cached result. @default false */
  refreshCache?: boolean;
  /** Key counted against the task's per-key concurrency limit (e.g. a customer id). */
  concurrencyKey?: string;
  /**
   * Runs (ids or handles) this run waits for: it stays SCHEDULED until they
   * are all terminal and starts if they all COMPLETED; if one failed or was
   * cancelled it fails at once ("DependencyFailed") unless
   * `runIfDependenciesFail` is set.
   */
  waitFor?: ReadonlyArray<string | { id: string }>;
  /** Start even when a run in `waitFor` failed or was cancelled. @default false */
  runIfDependenciesFail?: boolean;
}

function retryPolicy(o: RetryOptions): RetryPolicy | undefined {
  if (o.retries === undefined && o.retryDelaysMs === undefined && o.retryOn === undefined && o.neverRetryOn === undefined) return undefined;
  return {
    maxRetries: o.retries ?? 0,
    initialDelayMs: o.initialDelayMs ?? 0,
    backoffMultiplier: o.backoffMultiplier ?? 0,
    maxDelayMs: o.maxDelayMs ?? 0,
    jitter: o.jitter ?? 0,
    delaysMs: o.retryDelaysMs ?? [],
    retryOn: o.retryOn ?? [],
    neverRetryOn: o.neverRetryOn ?? [],
  };
}

/** Maps SDK options (task defaults overridden by call options) to the proto's SubmitOptions. */
export function toSubmitOptions(o: ApplyOptions): SubmitOptions {
  return {
    idempotencyKey: o.idempotencyKey ?? "",
    queue: o.queue ?? "",
    priority: o.priority ?? 0,
    retry: retryPolicy(o),
    timeoutMs: o.timeoutMs ?? 0,
    scheduledAt: o.scheduledAt,
    delayMs: o.delayMs ?? 0,
    labels: o.labels ?? {},
    cacheKey: o.cacheKey ?? "",
    cacheTtlMs: o.cacheTtlMs ?? 0,
    refreshCache: o.refreshCache ?? false,
    concurrencyKey: o.concurrencyKey ?? "",
    scheduleToStartTimeoutMs: o.scheduleToStartTimeoutMs ?? 0,
    waitFor: (o.waitFor ?? []).map((d) => (typeof d === "string" ? d : d.id)),
    runIfDependenciesFail: o.runIfDependenciesFail ?? false,
  };
}
