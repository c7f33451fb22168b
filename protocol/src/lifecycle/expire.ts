import { EventType, RunState, type SubmitOptions, type TaskRun } from "../gen/index.js";
import { failure } from "../failure.js";
import { ack, isTerminal, nak, noWrite, type Step, writeStep } from "./step.js";

/** Longest single wait of a held message before it is looked at again, in ms (so a cancel is noticed and long waits survive restarts). */
export const MAX_HOLD_MS = 30_000;

/** When the run becomes due: its scheduled time, else its creation. */
export function dueAt(run: TaskRun): number {
  return run.scheduledAt?.getTime() ?? run.createdAt?.getTime() ?? 0;
}

/**
 * ms past the run's schedule-to-start deadline (> 0 when it should
 * expire), or undefined when it has no deadline or has started.
 */
export function pastDeadline(run: TaskRun, options: SubmitOptions | undefined, now: Date): number | undefined {
  const sts = options?.scheduleToStartTimeoutMs ?? 0;
  if (sts <= 0 || run.attempt > 0) return undefined;
  return now.getTime() - dueAt(run) - sts;
}

/** The expiry write of a run that was not started in time (shared by the worker's claim and the scheduler's deadline). */
export function expiredStep(run: TaskRun, options: SubmitOptions | undefined, now: Date): Step {
  const sts = options?.scheduleToStartTimeoutMs ?? 0;
  const waited = now.getTime() - dueAt(run);
  return writeStep(
    run,
    { state: RunState.RUN_STATE_FAILED, finishedAt: now, error: failure("ScheduleToStartTimeout", `not started within ${sts} ms of becoming due (waited ${waited} ms)`) },
    EventType.EVENT_TYPE_EXPIRED,
    now,
    [ack],
  );
}

/**
 * The scheduler's deadline message for a run with a schedule-to-start
 * timeout: expire the run if it has not started by then, wait if the
 * deadline is ahead, drop the message if the run started or finished.
 */
export function expire(run: TaskRun, now: Date): Step {
  if (isTerminal(run.state)) return noWrite(ack);
  const over = pastDeadline(run, run.options, now);
  if (over === undefined) return noWrite(ack); // it started, or has no deadline
  if (over < 0) return noWrite(nak(Math.min(-over, MAX_HOLD_MS)));
  if (run.state !== RunState.RUN_STATE_PENDING && run.state !== RunState.RUN_STATE_SCHEDULED) return noWrite(ack);
  return expiredStep(run, run.options, now);
}
