import { int, listenOrOff, msOrOff, natsSettings, QUEUE_NAME_RE, resolveSettings, setting } from "@taskwire/core";
import type { Logger } from "pino";
import { z } from "zod";

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
  /** A crashed attempt (worker died) is retried this many times beyond the task's retry policy. @default 10 (TASKWIRE_MAX_CRASH_RETRIES) */
  maxCrashRetries?: number;
  /**
   * When a run's RUNNING state is written, in ms after its task started.
   * Unset or "off" (the default): before the task starts — a stale
   * duplicate delivery then always finds it RUNNING under this worker, even
   * while NATS loses a node. 0: sent as the task starts, not waited for (the
   * task starts one NATS round trip sooner). Above 0: written only if the
   * attempt is still running then; an attempt that ends sooner records its
   * start and its end in one write (one write less per run; StreamEvents
   * still yields STARTED, sharing the cursor of the event before it). With
   * 0 or more, a run may execute twice when a NATS node is lost at its start
   * (its redelivery can find it still PENDING), and until RUNNING is written
   * GetStatus says PENDING. Redelivered runs and runs with a
   * schedule-to-start timeout always write RUNNING first.
   * @default undefined (off) (TASKWIRE_START_RECORD_DELAY_MS)
   */
  startRecordDelayMs?: number;
  /**
   * How long the acks of finished runs are held to leave together, in ms
   * after the first of them; 0 sends each at once. An ack leaves only after
   * its run's outcome is recorded, so this delays nothing a caller sees: a
   * worker that dies meanwhile leaves the message to be redelivered, and
   * the next claim finds the run finished and acks it without running it.
   * It saves a socket write per run here and a wake-up in nats-server, and
   * sends a burst's acks in one write. Tasks with a `concurrencyLimit` ack
   * at once (their limit counts unacked messages). The worker's stop sends
   * held acks before it closes its connection.
   * @default 5 (TASKWIRE_ACK_DELAY_MS)
   */
  ackDelayMs?: number;
  /** Install SIGTERM/SIGINT handlers that stop the worker gracefully (serve() only). @default true */
  handleSignals?: boolean;
  /** Identifies the worker in run records. @default "<hostname>-<pid>-<random>" */
  workerId?: string;
  /**
   * HTTP listen address of /metrics, /healthz and /readyz (`host:port`;
   * port 0 takes a free one, see `worker.httpAddress`); "" or "off": none.
   * @default "" (off) (TASKWIRE_WORKER_HTTP_LISTEN)
   */
  http?: string;
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

export type ResolvedWorkerOptions = Required<Omit<WorkerOptions, "logger" | "onCompletion" | "onFailure" | "startRecordDelayMs">> & Pick<WorkerOptions, "onCompletion" | "onFailure" | "startRecordDelayMs">;

/** Every worker setting that has a `TASKWIRE_*` variable: its schema and default (see docs/configuration.md). */
export const workerSettings = {
  concurrency: setting("TASKWIRE_CONCURRENCY", int("runs", 1, 10_000), 10),
  queues: setting("TASKWIRE_QUEUES", queueList(), ["default"]),
  natsUrl: natsSettings.natsUrl,
  heartbeatMs: setting("TASKWIRE_HEARTBEAT_MS", int("ms", 100, 300_000), 5_000),
  shutdownGraceMs: setting("TASKWIRE_SHUTDOWN_GRACE_MS", int("ms", 0, 86_400_000), 30_000),
  maxResultBytes: setting("TASKWIRE_MAX_RESULT_BYTES", int("bytes", 1, 64 * 1024 * 1024), 3_145_728),
  inlineResultBytes: setting("TASKWIRE_INLINE_RESULT_BYTES", int("bytes", 0, 1024 * 1024), 65_536),
  maxCrashRetries: setting("TASKWIRE_MAX_CRASH_RETRIES", int("attempts", 0, 1_000), 10),
  startRecordDelayMs: setting("TASKWIRE_START_RECORD_DELAY_MS", msOrOff(0, 60_000), undefined),
  ackDelayMs: setting("TASKWIRE_ACK_DELAY_MS", int("ms", 0, 1_000), 5),
  http: setting("TASKWIRE_WORKER_HTTP_LISTEN", listenOrOff(), ""),
  replicas: natsSettings.replicas,
  retentionMs: natsSettings.retentionMs,
};

/** Queue names, comma separated (a list from code). */
function queueList(): z.ZodType<string[], string | string[]> {
  return z.union([z.string(), z.array(z.string())]).transform((v, ctx) => {
    const names = (typeof v === "string" ? v.split(",") : v).map((q) => q.trim()).filter((q) => q.length > 0);
    const bad = names.find((q) => !QUEUE_NAME_RE.test(q));
    if (names.length === 0 || bad !== undefined) {
      ctx.addIssue({ code: "custom", message: `expected queue names (a-z, 0-9, -; 1–64 characters), comma separated${bad !== undefined ? `; "${bad}" is not one` : ""}` });
      return z.NEVER;
    }
    return names;
  });
}

/**
 * The worker's settings: `o` (options from code or flags) over `TASKWIRE_*`
 * variables over defaults, validated once. Throws a ConfigError naming every
 * bad setting and its expected form.
 */
export function resolveOptions(o: WorkerOptions, workerId: string, env: NodeJS.ProcessEnv = process.env): ResolvedWorkerOptions {
  const { replicas: _r, retentionMs: _t, ...s } = resolveSettings(workerSettings, o, env);
  return {
    ...s,
    handleSignals: o.handleSignals ?? true,
    workerId: o.workerId ?? workerId,
    onCompletion: o.onCompletion,
    onFailure: o.onFailure,
  };
}

/** The replica count and retention this worker creates missing streams and buckets with (the same setting as the broker's). */
export function resourceSettings(env: NodeJS.ProcessEnv = process.env): { replicas: number; retentionMs: number } {
  const { replicas, retentionMs } = resolveSettings({ replicas: natsSettings.replicas, retentionMs: natsSettings.retentionMs }, {}, env);
  return { replicas, retentionMs };
}
