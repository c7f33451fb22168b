import type { JsMsg } from "@nats-io/jetstream";
import { encodeJson } from "@taskwire/client";
import { type AttemptResult, failure, failureOf, type Payload, type Step, type TaskRun } from "@taskwire/protocol";
import { completedResult, type DeferredStart, recordAttempt, type StoredRun } from "@taskwire/core";
import type { Invoked } from "./attempt.js";
import type { ExecDeps } from "./deps.js";

/** The recorded end of an attempt: the lifecycle step that was written (or refused) and the value a completed attempt returned. */
export interface Recorded {
  step: Step;
  /** The task's return value, when the attempt completed. */
  value?: unknown;
}

/**
 * Turns what the task function did into the attempt's result: a returned
 * value is encoded once (the cache, the Object Store and the record all use
 * these bytes) and stored (core's `completedResult`); a value that cannot
 * be kept fails the attempt.
 */
function resultOf(invoked: Invoked, run: TaskRun, deps: ExecDeps): AttemptResult | Promise<AttemptResult> {
  switch (invoked.kind) {
    case "timeout":
      return { kind: "timedOut", timeoutMs: run.options?.timeoutMs ?? 0 };
    case "cancelled":
      return { kind: "cancelled", reason: invoked.reason };
    case "error":
      return { kind: "failed", ...failureOf(invoked.err) };
    case "ok":
      break;
  }
  let encoded: Payload;
  try {
    encoded = encodeJson(invoked.value);
  } catch (err) {
    return { kind: "failed", failure: failure("ResultNotSerializable", `result is not JSON-serialisable: ${err instanceof Error ? err.message : String(err)}`) };
  }
  return completedResult(run, encoded, deps);
}

/**
 * Records how the attempt ended and settles its message (core's
 * `recordAttempt`: compare-and-set with the lifecycle's `outcome`, retried
 * while NATS fails, then ack / nak / nothing as the step decided).
 */
export function recordOutcome(m: JsMsg, run: TaskRun, invoked: Invoked, deps: ExecDeps, start?: DeferredStart, known?: StoredRun): Promise<Recorded> {
  return recordAttempt(m, run, () => resultOf(invoked, run, deps), deps, start, known).then((out) => ({ step: out.step, value: invoked.kind === "ok" && out.written ? invoked.value : undefined }));
}
