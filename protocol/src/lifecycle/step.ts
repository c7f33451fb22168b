import { type Attempt, EventType, RunState, type TaskRun } from "../gen/index.js";

/**
 * What a process carries out after a lifecycle decision, once the decided
 * write (if any) is durable. The lifecycle never does I/O; the broker,
 * scheduler and worker map each effect onto NATS.
 */
export type Effect =
  /** Settle the delivered message: done with it for good. */
  | { type: "ack" }
  /** Hand the delivered message back, to be delivered again after `delayMs`. */
  | { type: "nak"; delayMs: number }
  /** Drop the delivered message without redelivery (its run is gone). */
  | { type: "term" }
  /** Publish the run to its task's queue subject, deduplicated by `msgId`. */
  | { type: "enqueue"; msgId: string }
  /** Publish the run to the scheduled stream (due later, or waiting for other runs). */
  | { type: "schedule"; msgId: string }
  /** Publish the run's schedule-to-start deadline to the scheduled stream. */
  | { type: "scheduleExpiry"; msgId: string }
  /** Tell the worker holding the run to abort it now. */
  | { type: "notifyCancel"; reason: string }
  /** The claimed attempt may start executing. */
  | { type: "execute" }
  /** A crashed attempt was recorded: claim the written record again for a new attempt. */
  | { type: "claimAgain" };

/** Why a requested transition was not allowed; the broker maps it to FAILED_PRECONDITION. */
export interface Refusal {
  reason: "finished" | "not-retryable";
  message: string;
}

/**
 * One lifecycle decision: the record to write with compare-and-set against
 * the record it was decided from (none when nothing changes), the event
 * that write records, and the effects to carry out afterwards.
 */
export interface Step {
  write?: TaskRun;
  event?: EventType;
  effects: Effect[];
  /** Set when the transition was refused; then there is no write. */
  refused?: Refusal;
}

const TERMINAL: ReadonlySet<RunState> = new Set([RunState.RUN_STATE_COMPLETED, RunState.RUN_STATE_FAILED, RunState.RUN_STATE_CANCELLED]);

/** COMPLETED, FAILED or CANCELLED: the first of these recorded wins, for good. */
export function isTerminal(state: RunState): boolean {
  return TERMINAL.has(state);
}

/** A decision that writes `run` changed by `patch`, recording `event`. */
export function writeStep(run: TaskRun, patch: Partial<TaskRun>, event: EventType, now: Date, effects: Effect[] = []): Step {
  // `foldsStart` describes one revision only: a write never carries it on.
  return { write: { ...run, foldsStart: false, ...patch, lastEvent: event, updatedAt: now }, event, effects };
}

/** A decision that writes nothing. */
export function noWrite(...effects: Effect[]): Step {
  return { effects };
}

/** The run's attempt `n` with `patch` applied. */
export function patchAttempt(run: TaskRun, n: number, patch: Partial<Attempt>): Attempt[] {
  return run.attempts.map((a) => (a.number === n ? { ...a, ...patch } : a));
}

export const ack: Effect = { type: "ack" };
export const nak = (delayMs: number): Effect => ({ type: "nak", delayMs: Math.max(0, Math.round(delayMs)) });
