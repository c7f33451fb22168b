import { EventType, RunState, type TaskRun } from "../gen/index.js";
import { failure } from "../failure.js";
import { dueAt, MAX_HOLD_MS } from "./expire.js";
import { ack, isTerminal, nak, noWrite, type Step, writeStep } from "./step.js";

/** How often a run waiting for other runs looks at them again, in ms. */
export const DEPENDENCY_POLL_MS = 250;

export interface ReleaseInput {
  /** The states of the runs it waits for (`options.wait_for`, same order); undefined = the run's record is gone. */
  dependencies: ReadonlyArray<RunState | undefined>;
}

/**
 * The scheduler's decision for a held (delayed or waiting) run:
 * - finished: drop the message;
 * - not yet due: hold it (nak) until due, at most MAX_HOLD_MS at a time;
 * - a run it waits for failed, was cancelled or expired: FAILED
 *   (DependencyFailed), unless it runs anyway;
 * - a run it waits for is not finished: look again in DEPENDENCY_POLL_MS;
 * - otherwise: SCHEDULED → PENDING (RELEASED) and queue it. A run already
 *   released whose first attempt has not started is queued again; the
 *   message id makes that a no-op if the first publish landed.
 */
export function release(run: TaskRun, input: ReleaseInput, now: Date): Step {
  if (isTerminal(run.state)) return noWrite(ack);
  const enqueue = { type: "enqueue", msgId: run.id } as const;
  if (run.state !== RunState.RUN_STATE_SCHEDULED) {
    return run.state === RunState.RUN_STATE_PENDING && run.attempt === 0 ? noWrite(enqueue, ack) : noWrite(ack);
  }
  const wait = dueAt(run) - now.getTime();
  if (wait > 0) return noWrite(nak(Math.min(wait, MAX_HOLD_MS)));
  const deps = run.options?.waitFor ?? [];
  if (deps.length > 0) {
    // An expired dependency counts as failed: it can never complete now.
    const failed = deps.filter((_, i) => {
      const s = input.dependencies[i];
      return s === undefined || s === RunState.RUN_STATE_FAILED || s === RunState.RUN_STATE_CANCELLED;
    });
    if (failed.length > 0 && !run.options?.runIfDependenciesFail) {
      return writeStep(run, { state: RunState.RUN_STATE_FAILED, finishedAt: now, error: failure("DependencyFailed", `run(s) it waits for did not complete: ${failed.join(", ")}`) }, EventType.EVENT_TYPE_FAILED, now, [ack]);
    }
    if (input.dependencies.some((s) => s !== undefined && !isTerminal(s))) return noWrite(nak(DEPENDENCY_POLL_MS));
  }
  return writeStep(run, { state: RunState.RUN_STATE_PENDING }, EventType.EVENT_TYPE_RELEASED, now, [enqueue, ack]);
}
