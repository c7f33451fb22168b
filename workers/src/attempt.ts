import { decodeArgs, type AnyTaskDefinition, type TaskContext, type TaskLogger } from "@taskwire/client";
import { runWithContext } from "@taskwire/client/internal";
import type { TaskRun } from "@taskwire/protocol";
import type { RunLog } from "@taskwire/core";
import type { ExecDeps } from "./deps.js";
import { runInThread } from "./thread-runner.js";

/** How long a cancelled or timed-out task may take to notice its signal before the slot is taken back, in ms. */
export const ABORT_GRACE_MS = 2_000;

/** How an attempt's function ended, before it is recorded. */
export type Invoked =
  | { kind: "ok"; value: unknown }
  | { kind: "error"; err: unknown }
  | { kind: "timeout" }
  | { kind: "cancelled"; reason: string };

/**
 * Node timers fire at once for delays above 2^31−1 ms (about 24.8 days);
 * a longer timeout is armed in steps.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;
function longTimeout(fn: () => void, ms: number): { clear(): void } {
  let t: NodeJS.Timeout;
  const arm = (left: number): void => {
    t = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS));
  };
  arm(ms);
  return { clear: () => clearTimeout(t) };
}

/**
 * Executes one attempt of the task function with its timeout and
 * cancellation; never throws. Cancellation and timeouts abort the task's
 * signal first; a task that ignores it gets ABORT_GRACE_MS, then the attempt
 * is recorded anyway and the slot freed (the function's promise is
 * abandoned; `isolation: "thread"` terminates it instead).
 */
export async function invoke(def: AnyTaskDefinition, run: TaskRun, deps: ExecDeps, runLog: RunLog): Promise<Invoked> {
  // The AbortController is made only if the task reads its signal (most
  // never do; one per run was 2 % of a busy worker's CPU). Until then an
  // abort only records its reason, and a later read sees it aborted.
  let ac: AbortController | undefined;
  let abortReason: Error | undefined;
  const signal = (): AbortSignal => {
    if (!ac) {
      ac = new AbortController();
      if (abortReason) ac.abort(abortReason);
    }
    return ac.signal;
  };
  let settled = false;
  return new Promise<Invoked>((resolve) => {
    const finish = (o: Invoked): void => {
      if (settled) return;
      settled = true;
      timer?.clear();
      unregister();
      resolve(o);
    };
    const abortThenSettle = (o: Invoked, reason: Error): void => {
      if (abortReason) return;
      abortReason = reason;
      ac?.abort(reason);
      setTimeout(() => finish(o), ABORT_GRACE_MS).unref();
    };
    /** The outcome of an attempt whose signal was aborted: a timeout or a cancellation. */
    const aborted = (): Invoked => (abortReason?.name === "TimeoutError" ? { kind: "timeout" } : { kind: "cancelled", reason: abortReason?.message ?? "" });
    const timeoutMs = run.options?.timeoutMs ?? 0;
    const timer = timeoutMs > 0 ? longTimeout(() => abortThenSettle({ kind: "timeout" }, Object.assign(new Error(`attempt exceeded its timeout of ${timeoutMs} ms`), { name: "TimeoutError" })), timeoutMs) : undefined;
    const unregister = deps.registerAbort(run.id, (reason) => abortThenSettle({ kind: "cancelled", reason }, Object.assign(new Error(`run cancelled${reason ? `: ${reason}` : ""}`), { name: "AbortError" })));
    let args: unknown[];
    try {
      args = decodeArgs(run.args);
    } catch (err) {
      finish({ kind: "error", err: Object.assign(new Error(`cannot decode args: ${err instanceof Error ? err.message : String(err)}`), { name: "BadArguments", retryable: false }) });
      return;
    }
    if (def.options.isolation === "thread") {
      runInThread(def, run, args, runLog, signal(), ABORT_GRACE_MS, (o) => {
        // A thread that ended on its own after an abort: report the abort.
        finish(abortReason && o.kind !== "ok" ? aborted() : o);
      });
      return;
    }
    const ctx = new AttemptContext(run, runLog, signal);
    const ended = (value: unknown): void => finish(abortReason ? aborted() : { kind: "ok", value });
    const threw = (err: unknown): void => finish(abortReason ? aborted() : { kind: "error", err });
    // Called at once (this is a microtask of the run's own, after its
    // claim); only a task that returns a promise is waited for.
    let value: unknown;
    try {
      value = runWithContext(ctx, () => (def.fn as (...a: unknown[]) => unknown)(...args));
    } catch (err) {
      threw(err);
      return;
    }
    if (isThenable(value)) Promise.resolve(value).then(ended, threw);
    else ended(value);
  });
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === "object" || typeof v === "function") && v !== null && typeof (v as { then?: unknown }).then === "function";
}

/**
 * What a task function sees of its run through `context()`: one object per
 * attempt, its logger made only when the task first logs (building the
 * logger's four closures for every run was 1 % of a busy worker's CPU).
 */
class AttemptContext implements TaskContext {
  readonly #run: TaskRun;
  readonly #runLog: RunLog;
  readonly #signal: () => AbortSignal;
  #log: TaskLogger | undefined;

  constructor(run: TaskRun, runLog: RunLog, signal: () => AbortSignal) {
    this.#run = run;
    this.#runLog = runLog;
    this.#signal = signal;
  }

  get runId(): string {
    return this.#run.id;
  }

  get task(): string {
    return this.#run.task;
  }

  get attempt(): number {
    return this.#run.attempt;
  }

  get signal(): AbortSignal {
    return this.#signal();
  }

  get log(): TaskLogger {
    const runLog = this.#runLog;
    return (this.#log ??= {
      debug: (msg) => runLog.line("debug", msg),
      info: (msg) => runLog.line("info", msg),
      warn: (msg) => runLog.line("warn", msg),
      error: (msg) => runLog.line("error", msg),
    });
  }

  /** A function of its own (not a method), so `const { progress } = context()` works as it did. */
  get progress(): (fraction: number, message?: string) => void {
    const runLog = this.#runLog;
    return (fraction, message) => runLog.progress(fraction, message);
  }
}
