import type { Client, StreamEventsOptions } from "./client.js";
import { RunState, type RunEvent, type TaskRun } from "@taskwire/protocol";
import { ResultTimeoutError, RunCancelledError, RunFailedError, Status, TaskwireError } from "./errors.js";
import { decodeJson } from "./payload.js";

const TERMINAL = new Set([RunState.RUN_STATE_COMPLETED, RunState.RUN_STATE_FAILED, RunState.RUN_STATE_CANCELLED]);

export function isTerminalState(s: RunState): boolean {
  return TERMINAL.has(s);
}

/** Longest single GetStatus wait; result() loops for longer timeouts. */
const MAX_WAIT_MS = 60_000;

/** A submitted run. `R` is the task's result type when the handle came from a typed task. */
export class RunHandle<R = unknown> {
  readonly id: string;
  /** The record as of submit (or the last status() call). */
  snapshot: Partial<TaskRun>;

  constructor(
    readonly client: Client,
    run: Partial<TaskRun> & { id: string },
  ) {
    this.id = run.id;
    this.snapshot = run;
  }

  /** The run's current record. */
  async status(): Promise<TaskRun> {
    const run = await this.client.getStatus(this.id);
    this.snapshot = run;
    return run;
  }

  /** Current state name, e.g. "RUN_STATE_RUNNING". */
  async state(): Promise<RunState> {
    return (await this.status()).state;
  }

  /**
   * Waits for the run to finish and returns its result. Throws
   * RunFailedError (with the failure's type, message and stack) or
   * RunCancelledError; ResultTimeoutError after `timeoutMs` (the run goes on).
   * @param options.timeoutMs how long to wait, in ms. @default 60_000
   */
  async result(options: { timeoutMs?: number } = {}): Promise<R> {
    const run = await this.wait(options);
    return RunHandle.unwrap<R>(run);
  }

  /** Waits until terminal (or `timeoutMs`) and returns the final record without throwing on failure. */
  async wait(options: { timeoutMs?: number } = {}): Promise<TaskRun> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    let backoff = 100;
    for (;;) {
      const left = deadline - Date.now();
      let run: TaskRun;
      try {
        run = await this.client.getStatus(this.id, Math.max(0, Math.min(left, MAX_WAIT_MS)));
      } catch (err) {
        // Reads are idempotent: ride out a broker restart or NATS outage
        // until the caller's deadline.
        if (!(err instanceof TaskwireError && err.code === Status.UNAVAILABLE) || Date.now() + backoff >= deadline) throw err;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2_000);
        continue;
      }
      this.snapshot = run;
      if (isTerminalState(run.state)) return run;
      if (Date.now() >= deadline) throw new ResultTimeoutError(this.id, timeoutMs);
    }
  }

  /** Turns a terminal record into its result, or throws its failure. */
  static unwrap<R>(run: TaskRun): R {
    if (run.state === RunState.RUN_STATE_COMPLETED) return decodeJson(run.result) as R;
    if (run.state === RunState.RUN_STATE_CANCELLED) throw new RunCancelledError(run.id, run.error?.message ?? "");
    if (run.state === RunState.RUN_STATE_FAILED && run.error) throw new RunFailedError(run.id, run.error);
    throw new RunFailedError(run.id, { type: "UnknownState", message: `run is ${run.state}`, stack: "", retryable: false });
  }

  /**
   * This run's events, oldest first, live until it is terminal; reconnects
   * with the last cursor on a dropped connection.
   */
  events(options: Omit<StreamEventsOptions, "runIds"> = {}, signal?: AbortSignal): AsyncGenerator<RunEvent> {
    return this.client.events({ untilTerminal: true, ...options, runIds: [this.id] }, signal);
  }

  /** Cancels the run. */
  async cancel(reason = ""): Promise<TaskRun> {
    const run = await this.client.cancel(this.id, reason);
    this.snapshot = run;
    return run;
  }

  /** Runs a FAILED or CANCELLED run again (a new attempt of the same run). */
  async retry(): Promise<TaskRun> {
    const run = await this.client.retry(this.id);
    this.snapshot = run;
    return run;
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }
}

/** Waits for every handle; results in the same order. Rejects with the first failure. */
export async function waitAll<T extends readonly RunHandle<unknown>[]>(
  handles: T,
  options: { timeoutMs?: number } = {},
): Promise<{ [K in keyof T]: T[K] extends RunHandle<infer R> ? R : never }> {
  return (await Promise.all(handles.map((h) => h.result(options)))) as { [K in keyof T]: T[K] extends RunHandle<infer R> ? R : never };
}

/**
 * Yields each handle as its run finishes (any terminal state), fastest
 * first. Read the outcome with `h.snapshot` or `RunHandle.unwrap(run)`.
 */
export async function* asCompleted<H extends RunHandle<unknown>>(handles: readonly H[], options: { timeoutMs?: number } = {}): AsyncGenerator<H> {
  const pending = new Map<number, Promise<{ i: number }>>();
  handles.forEach((h, i) => pending.set(i, h.wait(options).then(() => ({ i }))));
  while (pending.size > 0) {
    const { i } = await Promise.race(pending.values());
    pending.delete(i);
    const h = handles[i];
    if (h) yield h;
  }
}
