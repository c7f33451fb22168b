import { EventType, RunState, type TaskRun } from "../gen/index.js";
import { type Step, writeStep } from "./step.js";

/**
 * A Retry request: a FAILED or CANCELLED run is queued again as a new
 * attempt of the same run. The message gets a distinct id per retry, so
 * JetStream's dedupe window does not swallow it.
 */
export function retry(run: TaskRun, now: Date): Step {
  if (run.state !== RunState.RUN_STATE_FAILED && run.state !== RunState.RUN_STATE_CANCELLED) {
    return { effects: [], refused: { reason: "not-retryable", message: `run ${run.id} is ${RunState[run.state]}; only FAILED or CANCELLED runs can be retried` } };
  }
  return writeStep(
    run,
    // A new dispatch: a message still queued from an earlier one (the run was
    // cancelled while queued) is recognised as stale and dropped, so the run
    // executes once.
    { state: RunState.RUN_STATE_PENDING, cancelRequested: false, finishedAt: undefined, nextAttemptAt: undefined, dispatch: run.dispatch + 1 },
    EventType.EVENT_TYPE_RESUBMITTED,
    now,
    [{ type: "enqueue", msgId: `${run.id}:retry:${run.attempts.length}` }],
  );
}
