import { Worker as Thread } from "node:worker_threads";
import type { AnyTaskDefinition } from "@taskwire/client";
import type { TaskRun } from "@taskwire/protocol";
import type { Invoked } from "./attempt.js";
import type { RunLog } from "@taskwire/core";

/** What a task thread reports back (see thread-entry.ts). */
type FromThread =
  | { type: "ok"; value: unknown }
  | { type: "error"; error: { name: string; message: string; stack: string; retryable?: boolean; delayMs?: number } }
  | { type: "log"; level: string; message: string }
  | { type: "progress"; fraction: number; message: string };

/**
 * Runs one attempt in a worker thread (`isolation: "thread"`). The thread
 * sees its own AbortSignal (aborted by a message); if it does not end within
 * `graceMs` of the abort, it is terminated — the hard stop that inline mode
 * cannot give.
 */
export function runInThread(def: AnyTaskDefinition, run: TaskRun, args: unknown[], runLog: RunLog, signal: AbortSignal, graceMs: number, done: (o: Invoked) => void): void {
  const entry = new URL(import.meta.url.endsWith(".ts") ? "./thread-boot.mjs" : "./thread-entry.js", import.meta.url);
  if (!def.moduleUrl) {
    done({ kind: "error", err: Object.assign(new Error(`task "${run.task}" has isolation "thread" but its module is unknown; define it with task() in a module file`), { name: "IsolationError", retryable: false }) });
    return;
  }
  const thread = new Thread(entry, { workerData: { moduleUrl: def.moduleUrl, taskName: run.task, args, runId: run.id, attempt: run.attempt }, execArgv: process.execArgv });
  let ended = false;
  let kill: NodeJS.Timeout | undefined;
  const end = (o: Invoked): void => {
    if (ended) return;
    ended = true;
    clearTimeout(kill);
    void thread.terminate();
    done(o);
  };
  signal.addEventListener(
    "abort",
    () => {
      thread.postMessage({ type: "abort", reason: signal.reason instanceof Error ? signal.reason.message : "aborted" });
      kill = setTimeout(() => end({ kind: "error", err: new Error("terminated") }), graceMs);
    },
    { once: true },
  );
  thread.on("message", (m: FromThread) => {
    if (m.type === "log") runLog.line(m.level, m.message);
    else if (m.type === "progress") runLog.progress(m.fraction, m.message);
    else if (m.type === "ok") end({ kind: "ok", value: m.value });
    else end({ kind: "error", err: Object.assign(new Error(m.error.message), m.error, { name: m.error.name, stack: m.error.stack }) });
  });
  thread.on("error", (err) => end({ kind: "error", err }));
  thread.on("exit", (code) => end({ kind: "error", err: new Error(`task thread exited with code ${code} before finishing`) }));
}
