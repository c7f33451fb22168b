import { randomUUID } from "node:crypto";
import { type Client, getDefaultClient } from "./client.js";
import { runWithContext, type TaskContext } from "./context.js";
import type { RunHandle } from "./handle.js";
import type { ApplyOptions, TaskOptions } from "./options.js";

/** The function a task runs. Arguments and result must be JSON-serialisable. */
export type TaskFn<A extends unknown[], R> = (...args: A) => R | Promise<R>;

/**
 * What a worker needs of any task definition, whatever its argument and
 * result types: every `TaskDefinition<A, R>` is one. (`fn` takes `never` so
 * that a function of any parameters fits; the worker calls it with the
 * decoded arguments.)
 */
export interface AnyTaskDefinition {
  readonly [TASK_BRAND]: true;
  readonly taskName: string;
  readonly fn: (...args: never) => unknown;
  readonly options: Readonly<TaskOptions>;
  readonly moduleUrl: string | undefined;
}

/** Brand shared across copies of this module, so a worker recognises definitions from any copy. */
export const TASK_BRAND = Symbol.for("taskwire.task");

/**
 * A task definition. Calling it runs the function here and now; `delay` and
 * `applyAsync` submit a run to the broker for a worker to execute.
 */
export interface TaskDefinition<A extends unknown[], R> {
  (...args: A): Promise<R>;
  readonly [TASK_BRAND]: true;
  /** The task's name, as workers and other languages know it. */
  readonly taskName: string;
  /** URL of the module that called task() (where thread isolation imports it from), when known. */
  readonly moduleUrl: string | undefined;
  readonly fn: TaskFn<A, R>;
  readonly options: Readonly<TaskOptions>;
  /** Submits a run with these arguments and the task's default options. */
  delay(...args: A): Promise<RunHandle<Awaited<R>>>;
  /** Submits a run, overriding the task's options for this call. */
  applyAsync(args: A, options?: ApplyOptions): Promise<RunHandle<Awaited<R>>>;
  /** Submits one run per item in a single SubmitBatch call. */
  map(items: readonly A[], options?: ApplyOptions): Promise<RunHandle<Awaited<R>>[]>;
  /** The same task, submitting through `client` instead of the default client. */
  using(client: Client): TaskDefinition<A, R>;
}

const noopLogger = {
  debug: (m: string) => console.debug(m),
  info: (m: string) => console.info(m),
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};

/**
 * Defines a task.
 *
 * ```ts
 * export const add = task("add", async (a: number, b: number) => a + b);
 * ```
 *
 * @param name 1–128 characters of [A-Za-z0-9_-]; unique across your services.
 * @param fn the function; read the run's context with `context()`.
 * @param options defaults for every run (retries, timeoutMs, queue, …).
 */
export function task<A extends unknown[], R>(name: string, fn: TaskFn<A, R>, options: TaskOptions = {}, client?: Client): TaskDefinition<A, R> {
  const clientOf = (): Client => client ?? getDefaultClient();
  const direct = async (...args: A): Promise<R> => {
    // A direct call runs in this process with a local context, like calling
    // a Prefect task outside a flow: no broker, no retries.
    const ctx: TaskContext = {
      runId: `local-${randomUUID()}`,
      task: name,
      attempt: 1,
      signal: new AbortController().signal,
      log: noopLogger,
      progress: () => {},
    };
    return runWithContext(ctx, () => fn(...args));
  };
  const def = Object.assign(direct, {
    [TASK_BRAND]: true as const,
    taskName: name,
    moduleUrl: callerModuleUrl(),
    fn,
    options: Object.freeze({ ...options }),
    delay: (...args: A) => clientOf().submit<Awaited<R>>(name, args, options),
    applyAsync: (args: A, callOptions: ApplyOptions = {}) => clientOf().submit<Awaited<R>>(name, args, { ...options, ...callOptions }),
    map: (items: readonly A[], callOptions: ApplyOptions = {}) =>
      clientOf().submitBatch<Awaited<R>>(items.map((args) => ({ task: name, args, options: { ...options, ...callOptions } }))),
    using: (c: Client) => task(name, fn, options, c),
  });
  return def;
}

/** The file URL of the module that called task(), from the call stack. */
function callerModuleUrl(): string | undefined {
  const stack = new Error().stack?.split("\n") ?? [];
  for (const line of stack.slice(1)) {
    const m = /(file:\/\/[^\s)]+?):\d+:\d+\)?$/.exec(line.trim()) ?? /\(?(\/[^\s()]+?):\d+:\d+\)?$/.exec(line.trim());
    const loc = m?.[1];
    if (!loc || /[\\/]clients[\\/]ts[\\/](src|dist)[\\/]task\.[jt]s$/.test(loc) || /node_modules[\\/]@taskwire[\\/]client[\\/]/.test(loc)) continue;
    return loc.startsWith("file://") ? loc : `file://${loc}`;
  }
  return undefined;
}

export function isTaskDefinition(v: unknown): v is AnyTaskDefinition {
  return typeof v === "function" && (v as Partial<Record<typeof TASK_BRAND, unknown>>)[TASK_BRAND] === true;
}
