import { EventType, type TaskRun } from "@taskwire/protocol";
import type { Logger } from "pino";
import type { ResolvedWorkerOptions } from "./options.js";
import type { Recorded } from "./record.js";

async function call(log: Logger, fn: () => void | Promise<void> | undefined): Promise<void> {
  try {
    await fn();
  } catch (err) {
    log.warn({ err }, "worker hook threw; the run's outcome is unaffected");
  }
}

/** Whether the worker has an onCompletion or onFailure hook (most have none: nothing to await then). */
export function hasHooks(options: ResolvedWorkerOptions): boolean {
  return options.onCompletion !== undefined || options.onFailure !== undefined;
}

/**
 * Calls the worker's onCompletion / onFailure hooks for an outcome this
 * worker recorded (COMPLETED, or FAILED with no retry left). A hook that
 * throws is logged and never changes the run.
 */
export async function runHooks(options: ResolvedWorkerOptions, log: Logger, run: TaskRun, rec: Recorded): Promise<void> {
  const written = rec.step.write;
  if (!written) return;
  const base = { runId: run.id, task: run.task, attempt: run.attempt };
  if (rec.step.event === EventType.EVENT_TYPE_COMPLETED && options.onCompletion) {
    await call(log, () => options.onCompletion?.({ ...base, result: rec.value }));
  }
  const failed = rec.step.event === EventType.EVENT_TYPE_FAILED || rec.step.event === EventType.EVENT_TYPE_TIMED_OUT;
  if (failed && options.onFailure) {
    await call(log, () => options.onFailure?.({ ...base, error: written.error && { type: written.error.type, message: written.error.message } }));
  }
}
