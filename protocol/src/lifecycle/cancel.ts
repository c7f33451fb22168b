import { EventType, RunState, type TaskRun } from "../gen/index.js";
import { failure } from "../failure.js";
import { noWrite, type Step, writeStep } from "./step.js";

/**
 * A Cancel request. A run that has not started (or is between attempts) is
 * CANCELLED at once — its queued message is acked and skipped when a worker
 * sees it. A RUNNING run gets `cancel_requested` and its worker is told to
 * abort; the worker records CANCELLED. Cancelling a cancelled run changes
 * nothing; a finished run cannot be cancelled.
 */
export function cancel(run: TaskRun, input: { reason: string }, now: Date): Step {
  switch (run.state) {
    case RunState.RUN_STATE_CANCELLED:
      return noWrite();
    case RunState.RUN_STATE_COMPLETED:
    case RunState.RUN_STATE_FAILED:
      return {
        effects: [],
        refused: { reason: "finished", message: `run ${run.id} already finished as ${RunState[run.state]}; only scheduled, pending, retrying or running runs can be cancelled` },
      };
    case RunState.RUN_STATE_RUNNING:
      // Notify again even if already requested: the first notice may have
      // been lost (core NATS is at-most-once).
      if (run.cancelRequested) return noWrite({ type: "notifyCancel", reason: input.reason });
      return writeStep(run, { cancelRequested: true }, EventType.EVENT_TYPE_CANCEL_REQUESTED, now, [{ type: "notifyCancel", reason: input.reason }]);
    default:
      return writeStep(
        run,
        { state: RunState.RUN_STATE_CANCELLED, cancelRequested: true, error: failure("Cancelled", input.reason || "cancelled before it started"), finishedAt: now, nextAttemptAt: undefined },
        EventType.EVENT_TYPE_CANCELLED,
        now,
      );
  }
}
