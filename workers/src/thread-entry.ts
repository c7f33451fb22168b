// Runs one attempt of a task in a worker thread (isolation: "thread"). The
// parent terminates the thread when a timeout or cancel is not obeyed within
// the grace period, which stops even a CPU-bound loop.
import { parentPort, workerData } from "node:worker_threads";
import { isTaskDefinition, type TaskContext } from "@taskwire/client";
import { runWithContext } from "@taskwire/client/internal";

interface Input {
  moduleUrl: string;
  taskName: string;
  args: unknown[];
  runId: string;
  attempt: number;
}

type FromParent = { type: "abort"; reason: string };

const input = workerData as Input;
const port = parentPort;
if (!port) throw new Error("thread-entry runs only as a worker thread");

const ac = new AbortController();
port.on("message", (m: FromParent) => {
  if (m.type === "abort") ac.abort(Object.assign(new Error(m.reason), { name: "AbortError" }));
});

async function main(): Promise<void> {
  if (/\.[cm]?tsx?$/.test(input.moduleUrl) && !(globalThis as { __taskwireTsxRegistered?: boolean }).__taskwireTsxRegistered) {
    // Hooks registered in the parent do not reach this thread.
    const { register } = await import("tsx/esm/api");
    register();
  }
  const mod = (await import(input.moduleUrl)) as Record<string, unknown>;
  const def = Object.values(mod)
    .flatMap((v) => (Array.isArray(v) ? (v as unknown[]) : [v]))
    .find((v) => isTaskDefinition(v) && v.taskName === input.taskName);
  if (!def || !isTaskDefinition(def)) throw new Error(`task "${input.taskName}" is not exported by ${input.moduleUrl}; thread isolation needs the definition exported from its module`);
  const ctx: TaskContext = {
    runId: input.runId,
    task: input.taskName,
    attempt: input.attempt,
    signal: ac.signal,
    log: {
      debug: (message) => port?.postMessage({ type: "log", level: "debug", message }),
      info: (message) => port?.postMessage({ type: "log", level: "info", message }),
      warn: (message) => port?.postMessage({ type: "log", level: "warn", message }),
      error: (message) => port?.postMessage({ type: "log", level: "error", message }),
    },
    progress: (fraction, message) => port?.postMessage({ type: "progress", fraction, message: message ?? "" }),
  };
  const value: unknown = await runWithContext(ctx, () => (def.fn as (...a: unknown[]) => unknown)(...input.args));
  port?.postMessage({ type: "ok", value });
}

main().catch((err: unknown) => {
  const e: Error & { retryable?: boolean; delayMs?: number } = err instanceof Error ? err : new Error(String(err));
  port.postMessage({ type: "error", error: { name: e.name, message: e.message, stack: e.stack ?? "", retryable: e.retryable, delayMs: e.delayMs } });
});
