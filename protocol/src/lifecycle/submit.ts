import { EventType, type Payload, RunState, type SubmitOptions, type TaskRun } from "../gen/index.js";
import { failure } from "../failure.js";
import { type Effect, type Step, writeStep } from "./step.js";

/** Runs due within this many ms of their submit go straight to the queue. */
export const SCHEDULE_THRESHOLD_MS = 20;

/** A validated Submit, as the lifecycle needs it. */
export interface NewRunInput {
  id: string;
  task: string;
  queue: string;
  args: Payload | undefined;
  options: SubmitOptions;
  /** When the run may start, in ms since the epoch (now or later). */
  dueAt: number;
  /** The cached result when the submit hit the task's cache. */
  cached?: Payload;
  /** The caller's namespace. @default "default" */
  namespace?: string;
}

/**
 * A new run: PENDING and queued, SCHEDULED and held by the scheduler (due
 * later or waiting for other runs), or COMPLETED at once from the cache.
 * The message is deduplicated by the run id, so a repeated submit of the
 * same run queues it once.
 */
export function newRun(input: NewRunInput, now: Date): Step {
  const delayed = input.dueAt > now.getTime() + SCHEDULE_THRESHOLD_MS || input.options.waitFor.length > 0;
  const run: TaskRun = {
    id: input.id,
    task: input.task,
    state: delayed ? RunState.RUN_STATE_SCHEDULED : RunState.RUN_STATE_PENDING,
    args: input.args,
    result: undefined,
    error: undefined,
    attempt: 0,
    options: input.options,
    createdAt: now,
    scheduledAt: new Date(Math.max(input.dueAt, now.getTime())),
    startedAt: undefined,
    finishedAt: undefined,
    updatedAt: now,
    nextAttemptAt: undefined,
    attempts: [],
    cached: false,
    cancelRequested: false,
    workerId: "",
    progress: undefined,
    queue: input.queue,
    revision: 0,
    lastEvent: EventType.EVENT_TYPE_SUBMITTED,
    traceParent: "",
    logs: [],
    resultRef: "",
    dispatch: 0,
    namespace: input.namespace ?? "default",
    foldsStart: false,
  };
  if (input.cached) {
    // A cache hit completes at once from the stored result, without a
    // worker: one record write, no message.
    return writeStep(run, { state: RunState.RUN_STATE_COMPLETED, result: input.cached, cached: true, finishedAt: now }, EventType.EVENT_TYPE_CACHED, now);
  }
  const effects: Effect[] = [delayed ? { type: "schedule", msgId: run.id } : { type: "enqueue", msgId: run.id }];
  // With a schedule-to-start timeout, a deadline message lets the scheduler
  // expire the run on time even if no worker ever sees it.
  if (input.options.scheduleToStartTimeoutMs > 0) effects.push({ type: "scheduleExpiry", msgId: `${run.id}:expire` });
  return writeStep(run, {}, EventType.EVENT_TYPE_SUBMITTED, now, effects);
}

/**
 * A run whose message could not be queued: the caller got an error, so it
 * must not look queued. Only a run that has not started is marked.
 */
export function submitFailed(run: TaskRun, now: Date): Step {
  if (run.state !== RunState.RUN_STATE_PENDING && run.state !== RunState.RUN_STATE_SCHEDULED) return { effects: [] };
  return writeStep(
    run,
    { state: RunState.RUN_STATE_FAILED, finishedAt: now, error: failure("SubmitFailed", "the run could not be queued (NATS error) and never ran; the caller got an error — submit it again") },
    EventType.EVENT_TYPE_FAILED,
    now,
  );
}
