import { AttemptOutcome, EventType, RunState, type SubmitOptions, type TaskRun } from "../gen/index.js";
import { failure } from "../failure.js";
import { expiredStep, pastDeadline } from "./expire.js";
import { ack, isTerminal, nak, noWrite, patchAttempt, type Step, writeStep } from "./step.js";

/** A redelivered retry this many ms or less before its backoff ends starts at once. */
const EARLY_TOLERANCE_MS = 5;

export interface ClaimInput {
  /** The worker claiming the run. */
  workerId: string;
  /** The task definition's options as proto options, filled in where the submitter left them unset. */
  taskDefaults?: SubmitOptions;
  /** When a rate limiter admitted the run; the attempt starts then. */
  admittedAt?: Date;
  /** Crashed attempts (worker died) tolerated before the run fails as WorkerCrashed. */
  maxCrashRetries: number;
  /** The dispatch the delivered message was published with (its run's `dispatch`). @default the record's */
  dispatch?: number;
}

/**
 * The run's options with the task definition's defaults filled in where the
 * submitter left them unset. A submitter that knows only the task's name
 * (another language, `Client.submit`) still gets the retries and timeout the
 * task's author declared; per-call options win.
 */
export function withDefaults(o: SubmitOptions | undefined, defaults: SubmitOptions | undefined): SubmitOptions | undefined {
  if (!defaults) return o;
  if (!o) return defaults;
  return {
    ...o,
    retry: o.retry ?? defaults.retry,
    timeoutMs: o.timeoutMs || defaults.timeoutMs,
    scheduleToStartTimeoutMs: o.scheduleToStartTimeoutMs || defaults.scheduleToStartTimeoutMs,
  };
}

/** Whether a delivered run may need a rate-limit place or a key slot before its claim (it is not finished, cancelled or held by a crashed worker). */
export function mayStart(run: TaskRun): boolean {
  return !isTerminal(run.state) && !run.cancelRequested;
}

/**
 * A worker's claim of a delivered run:
 * - finished: ack and skip — the first terminal state wins, a redelivered
 *   run is never executed again;
 * - a message from an earlier dispatch (fenced by `dispatch`): ack and drop;
 * - cancel requested before it started: CANCELLED;
 * - not started within its schedule-to-start timeout: expired (FAILED);
 * - redelivered before its retry backoff ends: nak for the rest of it;
 * - RUNNING: its worker stopped heartbeating. The lost attempt is recorded
 *   (CRASHED) and the run claimed again — or, past the crash budget, FAILED
 *   as WorkerCrashed;
 * - otherwise: RUNNING with a new attempt, and execute.
 */
export function claim(run: TaskRun, input: ClaimInput, now: Date): Step {
  const t = now.getTime();
  if (isTerminal(run.state)) return noWrite(ack);
  // A message from an earlier dispatch (the run was queued again since, by
  // Retry or the reconciler): the current dispatch has its own message, so
  // this one is dropped rather than starting a second execution.
  if (input.dispatch !== undefined && input.dispatch < run.dispatch) return noWrite(ack);
  if (run.cancelRequested) {
    return writeStep(run, { state: RunState.RUN_STATE_CANCELLED, finishedAt: now, error: run.error ?? failure("Cancelled", "cancelled before it started") }, EventType.EVENT_TYPE_CANCELLED, now, [ack]);
  }
  const options = withDefaults(run.options, input.taskDefaults);
  const over = pastDeadline(run, options, now);
  if (over !== undefined && over > 0 && run.state === RunState.RUN_STATE_PENDING) return expiredStep(run, options, now);
  const due = run.state === RunState.RUN_STATE_AWAITING_RETRY ? (run.nextAttemptAt?.getTime() ?? 0) : 0;
  if (due - t > EARLY_TOLERANCE_MS) {
    // Redelivered early (e.g. after a worker restart): wait out the backoff.
    return noWrite(nak(due - t));
  }
  if (run.state === RunState.RUN_STATE_RUNNING) {
    // Delivered again while recorded as running: the worker holding it
    // stopped heartbeating. Record the lost attempt, then start anew.
    const crashes = run.attempts.filter((a) => a.outcome === AttemptOutcome.ATTEMPT_OUTCOME_CRASHED).length + 1;
    const lost = failure("WorkerCrashed", `worker ${run.workerId} stopped heartbeating during attempt ${run.attempt}`, { retryable: true });
    const attempts = patchAttempt(run, run.attempt, { outcome: AttemptOutcome.ATTEMPT_OUTCOME_CRASHED, finishedAt: now, error: lost });
    if (crashes > input.maxCrashRetries) {
      // A poison run that kills every worker fails instead of cycling forever.
      return writeStep(run, { attempts, state: RunState.RUN_STATE_FAILED, error: { ...lost, message: `${lost.message}; gave up after ${crashes} crashed attempts` }, finishedAt: now }, EventType.EVENT_TYPE_FAILED, now, [ack]);
    }
    return writeStep(run, { attempts, state: RunState.RUN_STATE_PENDING, error: lost }, EventType.EVENT_TYPE_CRASHED, now, [{ type: "claimAgain" }]);
  }
  const n = run.attempt + 1;
  const startedAt = input.admittedAt ?? now;
  return writeStep(
    run,
    {
      state: RunState.RUN_STATE_RUNNING,
      attempt: n,
      options,
      attempts: [...run.attempts, { number: n, workerId: input.workerId, startedAt, finishedAt: undefined, outcome: AttemptOutcome.ATTEMPT_OUTCOME_RUNNING, error: undefined }],
      workerId: input.workerId,
      startedAt: run.startedAt ?? startedAt,
      nextAttemptAt: undefined,
    },
    EventType.EVENT_TYPE_STARTED,
    now,
    [{ type: "execute" }],
  );
}
