import type { Logger } from "pino";

/** Worker settings. Flags and TASKWIRE_* variables of `taskwire worker` map onto these. */
export interface WorkerOptions {
  /** Runs executed at once by this worker (all tasks together). @default 10 (TASKWIRE_CONCURRENCY) */
  concurrency?: number;
  /** Queues to serve. @default ["default"] (TASKWIRE_QUEUES, comma separated) */
  queues?: string[];
  /** NATS server URL(s). @default "nats://127.0.0.1:4222" (TASKWIRE_NATS_URL) */
  natsUrl?: string;
  /**
   * Heartbeat interval, in ms. A worker that stops heartbeating (killed,
   * hung) loses its runs to another worker within 2 × this interval.
   * @default 5_000 (TASKWIRE_HEARTBEAT_MS)
   */
  heartbeatMs?: number;
  /** On stop, how long in-flight runs may finish before their signals abort, in ms. @default 30_000 (TASKWIRE_SHUTDOWN_GRACE_MS) */
  shutdownGraceMs?: number;
  /**
   * Largest result accepted, in bytes; a larger one fails the run
   * (ResultTooLarge, not retried). The default stays below gRPC's usual 4 MiB
   * receive limit so every client can read it. @default 3_145_728 (3 MiB) (TASKWIRE_MAX_RESULT_BYTES)
   */
  maxResultBytes?: number;
  /** Results above this size go to the Object Store instead of the run record, in bytes. @default 65_536 (TASKWIRE_INLINE_RESULT_BYTES) */
  inlineResultBytes?: number;
  /** A crashed attempt (worker died) is retried this many times beyond the task's retry policy. @default 10 */
  maxCrashRetries?: number;
  /** Install SIGTERM/SIGINT handlers that stop the worker gracefully (serve() only). @default true */
  handleSignals?: boolean;
  /** Identifies the worker in run records. @default "<hostname>-<pid>-<random>" */
  workerId?: string;
  /** pino logger. @default a JSON logger at TASKWIRE_LOG_LEVEL or "info" */
  logger?: Logger;
  /** Called after a run is recorded COMPLETED by this worker. Errors are logged, never fail the run. */
  onCompletion?: (event: RunOutcome) => void | Promise<void>;
  /** Called after a run is recorded FAILED (retries exhausted) by this worker. */
  onFailure?: (event: RunOutcome) => void | Promise<void>;
}

export interface RunOutcome {
  runId: string;
  task: string;
  attempt: number;
  result?: unknown;
  error?: { type: string; message: string };
}

export type ResolvedWorkerOptions = Required<Omit<WorkerOptions, "logger" | "onCompletion" | "onFailure">> & Pick<WorkerOptions, "onCompletion" | "onFailure">;

function envNum(name: string, fallback: number): number {
  const v = process.env[name];
  return v ? Number(v) : fallback;
}

export function resolveOptions(o: WorkerOptions, workerId: string): ResolvedWorkerOptions {
  const concurrency = o.concurrency ?? envNum("TASKWIRE_CONCURRENCY", 10);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be an integer >= 1, got ${concurrency}`);
  const heartbeatMs = o.heartbeatMs ?? envNum("TASKWIRE_HEARTBEAT_MS", 5_000);
  if (!(heartbeatMs >= 100)) throw new Error(`heartbeatMs must be >= 100, got ${heartbeatMs}`);
  return {
    concurrency,
    queues: o.queues ?? (process.env.TASKWIRE_QUEUES ? process.env.TASKWIRE_QUEUES.split(",") : ["default"]),
    natsUrl: o.natsUrl ?? process.env.TASKWIRE_NATS_URL ?? "nats://127.0.0.1:4222",
    heartbeatMs,
    shutdownGraceMs: o.shutdownGraceMs ?? envNum("TASKWIRE_SHUTDOWN_GRACE_MS", 30_000),
    maxResultBytes: o.maxResultBytes ?? envNum("TASKWIRE_MAX_RESULT_BYTES", 3_145_728),
    inlineResultBytes: o.inlineResultBytes ?? envNum("TASKWIRE_INLINE_RESULT_BYTES", 65_536),
    maxCrashRetries: o.maxCrashRetries ?? 10,
    handleSignals: o.handleSignals ?? true,
    workerId: o.workerId ?? workerId,
    onCompletion: o.onCompletion,
    onFailure: o.onFailure,
  };
}
