import { AsyncLocalStorage } from "node:async_hooks";

/** What a running task can see and do about its own run. */
export interface TaskContext {
  /** The run's id (UUIDv7). */
  readonly runId: string;
  /** The task's name. */
  readonly task: string;
  /** 1-based attempt number. */
  readonly attempt: number;
  /** Aborts on timeout, cancellation and worker shutdown past its grace period. */
  readonly signal: AbortSignal;
  /** Log lines reach the run's events (StreamEvents, `taskwire watch`) and stay on the record (newest 100). */
  readonly log: TaskLogger;
  /** Reports progress (fraction 0–1) with an optional message; coalesced to a few writes per second. */
  progress(fraction: number, message?: string): void;
}

export interface TaskLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

// One store per process even if this module is loaded twice (say from dist
// and from src), so a task always finds the context its worker set.
const KEY = Symbol.for("taskwire.context");
type Holder = { [KEY]?: AsyncLocalStorage<TaskContext> };
const holder = globalThis as Holder;
const storage: AsyncLocalStorage<TaskContext> = (holder[KEY] ??= new AsyncLocalStorage<TaskContext>());

/**
 * The context of the run being executed. Call it inside a task function;
 * outside a run it throws (there is no run to describe).
 */
export function context(): TaskContext {
  const ctx = storage.getStore();
  if (!ctx) throw new Error("taskwire context() was called outside a running task; call it inside the task function");
  return ctx;
}

/** Runs `fn` with `ctx` as the current task context (used by the worker). */
export function runWithContext<T>(ctx: TaskContext, fn: () => T): T {
  return storage.run(ctx, fn);
}
