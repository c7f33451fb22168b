import type { JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import type { SubmitOptions } from "@taskwire/protocol";
import type { RunStore } from "../store.js";
import type { Acker } from "./acks.js";
import type { KeySlots } from "./keylimit.js";
import type { RateLimit, RateLimiter } from "./ratelimit.js";

/** The logger the execution helpers write to (pino's shape; the worker and the broker pass theirs). */
export interface ExecLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * What executing a run needs to know of its task: the name and what its
 * definition declares. The TS worker makes one from a `task()` definition;
 * the broker from a remote worker's `WorkerTask`.
 */
export interface TaskSpec {
  name: string;
  /** The definition's options as proto options: defaults for runs submitted without them (retry, timeout, schedule-to-start). */
  defaults: SubmitOptions;
  /** Starts per window across all workers; unset: unlimited. */
  rateLimit?: RateLimit;
  /** Runs executing at once per concurrency key across all workers; 0 or unset: unlimited. */
  keyConcurrencyLimit?: number;
}

/** The settings of whoever executes runs (a worker, or the broker for a remote worker). */
export interface ExecSettings {
  /** Recorded on the run as its holder. */
  workerId: string;
  /** Heartbeat interval, in ms: held messages are kept alive this often; the consumers' ack_wait is twice it. */
  heartbeatMs: number;
  /** Crashed attempts tolerated before a run fails as WorkerCrashed. */
  maxCrashRetries: number;
  /** Largest result accepted, in bytes. */
  maxResultBytes: number;
  /** Results above this go to the Object Store, in bytes. */
  inlineResultBytes: number;
  /**
   * How a first delivery's RUNNING write relates to the task's start
   * (`DeferredStart`): unset, written before the task starts; 0, sent as the
   * task starts (not waited for); > 0, written only once the attempt has run
   * this long, in ms — a shorter attempt's start is recorded in its
   * outcome's revision.
   */
  startRecordDelayMs?: number;
}

/**
 * Who executes which run, for claims: a RUNNING record delivered again is
 * only taken over (its attempt recorded CRASHED) when the worker it names is
 * no longer executing it. A redelivery while the holder lives comes from the
 * server, not from a crash: the holder's heartbeats did not reach the
 * consumer (its leader moved to another NATS node) — running the task a
 * second time there would repeat its side effects.
 */
export interface Holders {
  /** Whether `workerId` executes run `runId` now (this process: its own table; another: asked over core NATS). */
  isHeld(workerId: string, runId: string): Promise<boolean>;
  /** This process now executes run `runId` from message `m` (until it is done with `m`). */
  hold(runId: string, m: JsMsg): void;
}

/** What claiming a run and recording its outcome need from the process executing it. */
export interface ExecDeps {
  store: RunStore;
  /** The taskwire_cache bucket: completed runs with a cache key fill it. */
  cache: KV;
  /** Shared rate-limit windows. */
  rateLimiter: RateLimiter;
  /** Object Store for results above the inline limit. */
  results: ObjectStore;
  /** Per-key concurrency slots. */
  keySlots: KeySlots;
  options: ExecSettings;
  log: ExecLog;
  /** The holder table; without it a RUNNING run delivered again is taken over at once. */
  holders?: Holders;
  /** Sends the acks of recorded outcomes (a worker's, which may hold them a few ms to send several in one write); without it each is sent at once. */
  acks?: Acker;
}
