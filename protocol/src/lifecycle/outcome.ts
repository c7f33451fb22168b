import { AttemptOutcome, EventType, type Failure, type Payload, RunState, type TaskRun } from "../gen/index.js";
import { failure } from "../failure.js";
import { decideRetry } from "../retry.js";
import { ack, isTerminal, nak, noWrite, patchAttempt, type Step, writeStep } from "./step.js";

/** How an attempt ended, as the worker observed it. */
export type AttemptResult =
  /** Returned a value. `result` is inline, or (with `resultRef`) an empty payload naming its content type. */
  | { kind: "completed"; result: Payload; resultRef: string }
  /** Threw (or its result could not be kept); `retryAfterMs` when it asked to be retried after a delay. */
  | { kind: "failed"; failure: Failure; retryAfterMs?: number }
  /** Ran past its timeout. */
  | { kind: "timedOut"; timeoutMs: number }
  /** Aborted by a cancel (or the worker's shutdown). */
  | { kind: "cancelled"; reason: string };

export interface OutcomeInput {
  /** The attempt that ended. */
  attempt: number;
  result: AttemptResult;
  /** Jitter source for the retry backoff. @default Math.random */
  random?: () => number;
}

/**
 * Records how attempt `n` ended: COMPLETED (ack), CANCELLED (ack),
 * AWAITING_RETRY with the backoff (nak with that delay), or FAILED / timed
 * out (ack). If the run is no longer this attempt's — another attempt took
 * over after this one stalled, or it already ended — nothing is written:
 * the first terminal state wins.
 */
export function outcome(run: TaskRun, input: OutcomeInput, now: Date): Step {
  const n = input.attempt;
  const r = input.result;
  // Finished: the first terminal state wins; the message is done with.
  if (isTerminal(run.state)) return noWrite(ack);
  // Another attempt holds the run (this one stalled past the heartbeat
  // timeout): the message now belongs to that attempt's delivery, and an ack
  // — JetStream acks by stream sequence, whichever delivery it came from —
  // would settle it under that worker for good. Leave it alone.
  if (run.state !== RunState.RUN_STATE_RUNNING || run.attempt !== n) return noWrite();
  switch (r.kind) {
    case "completed":
      return writeStep(
        run,
        { state: RunState.RUN_STATE_COMPLETED, result: r.result, resultRef: r.resultRef, error: undefined, finishedAt: now, attempts: patchAttempt(run, n, { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, finishedAt: now }) },
        EventType.EVENT_TYPE_COMPLETED,
        now,
        [ack],
      );
    case "cancelled": {
      const f = failure("Cancelled", r.reason || "cancelled while running");
      return writeStep(
        run,
        { state: RunState.RUN_STATE_CANCELLED, error: f, finishedAt: now, attempts: patchAttempt(run, n, { outcome: AttemptOutcome.ATTEMPT_OUTCOME_CANCELLED, finishedAt: now, error: f }) },
        EventType.EVENT_TYPE_CANCELLED,
        now,
        [ack],
      );
    }
    case "timedOut":
    case "failed": {
      const timedOut = r.kind === "timedOut";
      const f = timedOut ? failure("TimeoutError", `attempt ${n} exceeded its timeout of ${r.timeoutMs} ms`, { retryable: true }) : r.failure;
      const after: TaskRun = { ...run, attempts: patchAttempt(run, n, { outcome: timedOut ? AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT : AttemptOutcome.ATTEMPT_OUTCOME_FAILED, finishedAt: now, error: f }), error: f };
      const d = decideRetry(after, f, timedOut ? undefined : r.retryAfterMs, input.random);
      if (d.retry) {
        return writeStep(after, { state: RunState.RUN_STATE_AWAITING_RETRY, nextAttemptAt: new Date(now.getTime() + d.delayMs) }, EventType.EVENT_TYPE_RETRY_SCHEDULED, now, [nak(d.delayMs)]);
      }
      return writeStep(after, { state: RunState.RUN_STATE_FAILED, finishedAt: now }, timedOut ? EventType.EVENT_TYPE_TIMED_OUT : EventType.EVENT_TYPE_FAILED, now, [ack]);
    }
  }
}
