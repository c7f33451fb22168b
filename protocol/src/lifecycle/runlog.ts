import { EventType, type LogLine, type Progress, RunState, type TaskRun } from "../gen/index.js";
import { noWrite, type Step, writeStep } from "./step.js";

/** Log lines kept per run record; older lines are dropped. */
export const MAX_LOG_LINES = 100;

/** Whether attempt `n` is the run's running attempt (logs and progress of any other are dropped). */
function isRunningAttempt(run: TaskRun, n: number): boolean {
  return run.state === RunState.RUN_STATE_RUNNING && run.attempt === n;
}

/** Appends a log line of the running attempt (one revision, so one event on StreamEvents). */
export function appendLog(run: TaskRun, input: { attempt: number; line: LogLine }, now: Date): Step {
  if (!isRunningAttempt(run, input.attempt)) return noWrite();
  return writeStep(run, { logs: [...run.logs, input.line].slice(-MAX_LOG_LINES) }, EventType.EVENT_TYPE_LOG, now);
}

/** Records the running attempt's progress. */
export function reportProgress(run: TaskRun, input: { attempt: number; progress: Progress }, now: Date): Step {
  if (!isRunningAttempt(run, input.attempt)) return noWrite();
  return writeStep(run, { progress: input.progress }, EventType.EVENT_TYPE_PROGRESS, now);
}
