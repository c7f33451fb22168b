import assert from "node:assert/strict";
import {
  AttemptOutcome,
  appendLog,
  cancel,
  claim,
  type Effect,
  EventType,
  expire,
  foldedOutcome,
  newRun,
  outcome,
  recordStart,
  release,
  reportProgress,
  retry,
  RunState,
  type Step,
  submitFailed,
  SubmitOptions,
  type TaskRun,
} from "@taskwire/protocol";

// Every transition of the run lifecycle and every refused one, with no
// nats-server: each row is (record, input, now) → (state, event, effects).

const NOW = new Date("2026-12-01T12:00:00.000Z");
const T = NOW.getTime();
const at = (ms: number): Date => new Date(T + ms);

function options(patch: Partial<SubmitOptions> = {}): SubmitOptions {
  return SubmitOptions.fromPartial(patch);
}

/** A fresh PENDING run (as Submit writes it), changed by `patch`. */
function run(patch: Partial<TaskRun> = {}): TaskRun {
  const s = newRun({ id: "r1", task: "t", queue: "default", args: undefined, options: options(), dueAt: T - 1_000 }, at(-1_000));
  assert.ok(s.write);
  return { ...s.write, ...patch };
}

function running(attempt = 1, patch: Partial<TaskRun> = {}): TaskRun {
  const attempts = Array.from({ length: attempt }, (_, i) => ({
    number: i + 1,
    workerId: "w0",
    startedAt: at(-500),
    finishedAt: i + 1 < attempt ? at(-400) : undefined,
    outcome: i + 1 < attempt ? AttemptOutcome.ATTEMPT_OUTCOME_FAILED : AttemptOutcome.ATTEMPT_OUTCOME_RUNNING,
    error: undefined,
  }));
  return run({ state: RunState.RUN_STATE_RUNNING, attempt, attempts, workerId: "w0", startedAt: at(-500), ...patch });
}

interface Row {
  name: string;
  step: () => Step;
  state?: RunState; // undefined: no write
  event?: EventType;
  effects: Effect["type"][];
  refused?: string;
  check?: (s: Step) => void;
}

const claimInput = { workerId: "w1", maxCrashRetries: 2 };
const completed = { kind: "completed", result: { contentType: "application/json", data: Buffer.from("5") }, resultRef: "" } as const;
const retryPolicy = { maxRetries: 2, delaysMs: [100], initialDelayMs: 0, maxDelayMs: 0, backoffMultiplier: 0, jitter: 0, retryOn: [], neverRetryOn: [] };

const rows: Row[] = [
  // new run
  { name: "newRun: due now → PENDING, enqueued", step: () => newRun({ id: "a", task: "t", queue: "q", args: undefined, options: options(), dueAt: T }, NOW), state: RunState.RUN_STATE_PENDING, event: EventType.EVENT_TYPE_SUBMITTED, effects: ["enqueue"] },
  { name: "newRun: due later → SCHEDULED, held by the scheduler", step: () => newRun({ id: "a", task: "t", queue: "q", args: undefined, options: options(), dueAt: T + 60_000 }, NOW), state: RunState.RUN_STATE_SCHEDULED, event: EventType.EVENT_TYPE_SUBMITTED, effects: ["schedule"] },
  { name: "newRun: waits for runs → SCHEDULED", step: () => newRun({ id: "a", task: "t", queue: "q", args: undefined, options: options({ waitFor: ["x"] }), dueAt: T }, NOW), state: RunState.RUN_STATE_SCHEDULED, event: EventType.EVENT_TYPE_SUBMITTED, effects: ["schedule"] },
  { name: "newRun: schedule-to-start timeout → also a deadline message", step: () => newRun({ id: "a", task: "t", queue: "q", args: undefined, options: options({ scheduleToStartTimeoutMs: 5 }), dueAt: T }, NOW), state: RunState.RUN_STATE_PENDING, event: EventType.EVENT_TYPE_SUBMITTED, effects: ["enqueue", "scheduleExpiry"], check: (s) => assert.deepEqual(s.effects[1], { type: "scheduleExpiry", msgId: "a:expire" }) },
  { name: "newRun: cache hit → COMPLETED at once, no message", step: () => newRun({ id: "a", task: "t", queue: "q", args: undefined, options: options(), dueAt: T, cached: { contentType: "application/json", data: Buffer.from("1") } }, NOW), state: RunState.RUN_STATE_COMPLETED, event: EventType.EVENT_TYPE_CACHED, effects: [], check: (s) => assert.equal(s.write?.cached, true) },
  { name: "submitFailed: PENDING → FAILED (SubmitFailed)", step: () => submitFailed(run(), NOW), state: RunState.RUN_STATE_FAILED, event: EventType.EVENT_TYPE_FAILED, effects: [], check: (s) => assert.equal(s.write?.error?.type, "SubmitFailed") },
  { name: "submitFailed: a run that started is left alone", step: () => submitFailed(running(), NOW), effects: [] },

  // claim
  { name: "claim: PENDING → RUNNING, attempt 1, execute", step: () => claim(run(), claimInput, NOW), state: RunState.RUN_STATE_RUNNING, event: EventType.EVENT_TYPE_STARTED, effects: ["execute"], check: (s) => { assert.equal(s.write?.attempt, 1); assert.equal(s.write?.workerId, "w1"); assert.equal(s.write?.attempts[0]?.outcome, AttemptOutcome.ATTEMPT_OUTCOME_RUNNING); } },
  { name: "claim: rate-limited start is dated when admitted", step: () => claim(run(), { ...claimInput, admittedAt: at(7) }, NOW), state: RunState.RUN_STATE_RUNNING, event: EventType.EVENT_TYPE_STARTED, effects: ["execute"], check: (s) => assert.equal(s.write?.attempts[0]?.startedAt?.getTime(), T + 7) },
  { name: "claim: the task's defaults fill unset options", step: () => claim(run(), { ...claimInput, taskDefaults: options({ timeoutMs: 900, retry: retryPolicy }) }, NOW), state: RunState.RUN_STATE_RUNNING, event: EventType.EVENT_TYPE_STARTED, effects: ["execute"], check: (s) => { assert.equal(s.write?.options?.timeoutMs, 900); assert.equal(s.write?.options?.retry?.maxRetries, 2); } },
  { name: "claim: per-call options win over the task's defaults", step: () => claim(run({ options: options({ timeoutMs: 50 }) }), { ...claimInput, taskDefaults: options({ timeoutMs: 900 }) }, NOW), state: RunState.RUN_STATE_RUNNING, event: EventType.EVENT_TYPE_STARTED, effects: ["execute"], check: (s) => assert.equal(s.write?.options?.timeoutMs, 50) },
  { name: "claim: AWAITING_RETRY that is due → RUNNING, attempt 2", step: () => claim(running(1, { state: RunState.RUN_STATE_AWAITING_RETRY, nextAttemptAt: at(-1) }), claimInput, NOW), state: RunState.RUN_STATE_RUNNING, event: EventType.EVENT_TYPE_STARTED, effects: ["execute"], check: (s) => assert.equal(s.write?.attempt, 2) },
  { name: "claim refused: AWAITING_RETRY delivered early → nak for the rest", step: () => claim(running(1, { state: RunState.RUN_STATE_AWAITING_RETRY, nextAttemptAt: at(800) }), claimInput, NOW), effects: ["nak"], check: (s) => assert.deepEqual(s.effects, [{ type: "nak", delayMs: 800 }]) },
  { name: "claim refused: a message of an earlier dispatch (cancelled, then retried) → ack, dropped", step: () => claim(run({ dispatch: 1 }), { ...claimInput, dispatch: 0 }, NOW), effects: ["ack"] },
  { name: "claim: the message of the current dispatch → RUNNING", step: () => claim(run({ dispatch: 1 }), { ...claimInput, dispatch: 1 }, NOW), state: RunState.RUN_STATE_RUNNING, event: EventType.EVENT_TYPE_STARTED, effects: ["execute"] },
  { name: "claim refused: COMPLETED → ack, never executed again", step: () => claim(run({ state: RunState.RUN_STATE_COMPLETED }), claimInput, NOW), effects: ["ack"] },
  { name: "claim refused: FAILED → ack", step: () => claim(run({ state: RunState.RUN_STATE_FAILED }), claimInput, NOW), effects: ["ack"] },
  { name: "claim refused: CANCELLED → ack", step: () => claim(run({ state: RunState.RUN_STATE_CANCELLED }), claimInput, NOW), effects: ["ack"] },
  { name: "claim: cancel requested before start → CANCELLED", step: () => claim(run({ cancelRequested: true }), claimInput, NOW), state: RunState.RUN_STATE_CANCELLED, event: EventType.EVENT_TYPE_CANCELLED, effects: ["ack"] },
  { name: "claim: past its schedule-to-start timeout → FAILED (expired)", step: () => claim(run({ options: options({ scheduleToStartTimeoutMs: 100 }) }), claimInput, NOW), state: RunState.RUN_STATE_FAILED, event: EventType.EVENT_TYPE_EXPIRED, effects: ["ack"], check: (s) => assert.equal(s.write?.error?.type, "ScheduleToStartTimeout") },
  { name: "claim: within its schedule-to-start timeout → RUNNING", step: () => claim(run({ options: options({ scheduleToStartTimeoutMs: 5_000 }) }), claimInput, NOW), state: RunState.RUN_STATE_RUNNING, event: EventType.EVENT_TYPE_STARTED, effects: ["execute"] },
  { name: "claim: RUNNING (holder stopped heartbeating) → CRASHED, PENDING, claim again", step: () => claim(running(1), claimInput, NOW), state: RunState.RUN_STATE_PENDING, event: EventType.EVENT_TYPE_CRASHED, effects: ["claimAgain"], check: (s) => { assert.equal(s.write?.attempts[0]?.outcome, AttemptOutcome.ATTEMPT_OUTCOME_CRASHED); assert.equal(s.write?.error?.type, "WorkerCrashed"); } },
  {
    name: "claim: crash budget spent → FAILED (WorkerCrashed)",
    step: () => {
      const crashed = { number: 1, workerId: "w0", startedAt: at(-9), finishedAt: at(-8), outcome: AttemptOutcome.ATTEMPT_OUTCOME_CRASHED, error: undefined };
      const r = running(3);
      r.attempts = [crashed, { ...crashed, number: 2 }, { ...crashed, number: 3, outcome: AttemptOutcome.ATTEMPT_OUTCOME_RUNNING }];
      return claim(r, claimInput, NOW);
    },
    state: RunState.RUN_STATE_FAILED,
    event: EventType.EVENT_TYPE_FAILED,
    effects: ["ack"],
    check: (s) => assert.match(s.write?.error?.message ?? "", /gave up after 3 crashed attempts/),
  },

  // outcome
  { name: "outcome: returned → COMPLETED, ack", step: () => outcome(running(), { attempt: 1, result: { kind: "completed", result: { contentType: "application/json", data: Buffer.from("5") }, resultRef: "" } }, NOW), state: RunState.RUN_STATE_COMPLETED, event: EventType.EVENT_TYPE_COMPLETED, effects: ["ack"], check: (s) => assert.equal(s.write?.attempts[0]?.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED) },
  { name: "outcome: large result → COMPLETED naming the stored object", step: () => outcome(running(), { attempt: 1, result: { kind: "completed", result: { contentType: "application/json", data: Buffer.alloc(0) }, resultRef: "r1" } }, NOW), state: RunState.RUN_STATE_COMPLETED, event: EventType.EVENT_TYPE_COMPLETED, effects: ["ack"], check: (s) => assert.equal(s.write?.resultRef, "r1") },
  { name: "outcome: threw, no retry policy → FAILED, ack", step: () => outcome(running(), { attempt: 1, result: { kind: "failed", failure: { type: "E", message: "m", stack: "", retryable: true } } }, NOW), state: RunState.RUN_STATE_FAILED, event: EventType.EVENT_TYPE_FAILED, effects: ["ack"] },
  { name: "outcome: threw, retries left → AWAITING_RETRY, nak with the backoff", step: () => outcome(running(1, { options: options({ retry: retryPolicy }) }), { attempt: 1, result: { kind: "failed", failure: { type: "E", message: "m", stack: "", retryable: true } } }, NOW), state: RunState.RUN_STATE_AWAITING_RETRY, event: EventType.EVENT_TYPE_RETRY_SCHEDULED, effects: ["nak"], check: (s) => { assert.deepEqual(s.effects, [{ type: "nak", delayMs: 100 }]); assert.equal(s.write?.nextAttemptAt?.getTime(), T + 100); } },
  { name: "outcome: retry after N ms → nak N", step: () => outcome(running(1, { options: options({ retry: retryPolicy }) }), { attempt: 1, result: { kind: "failed", failure: { type: "RetryAfterError", message: "m", stack: "", retryable: true }, retryAfterMs: 4_000 } }, NOW), state: RunState.RUN_STATE_AWAITING_RETRY, event: EventType.EVENT_TYPE_RETRY_SCHEDULED, effects: ["nak"], check: (s) => assert.deepEqual(s.effects, [{ type: "nak", delayMs: 4_000 }]) },
  { name: "outcome: non-retryable error → FAILED despite retries left", step: () => outcome(running(1, { options: options({ retry: retryPolicy }) }), { attempt: 1, result: { kind: "failed", failure: { type: "E", message: "m", stack: "", retryable: false } } }, NOW), state: RunState.RUN_STATE_FAILED, event: EventType.EVENT_TYPE_FAILED, effects: ["ack"] },
  { name: "outcome: retries used up → FAILED", step: () => outcome(running(3, { options: options({ retry: retryPolicy }) }), { attempt: 3, result: { kind: "failed", failure: { type: "E", message: "m", stack: "", retryable: true } } }, NOW), state: RunState.RUN_STATE_FAILED, event: EventType.EVENT_TYPE_FAILED, effects: ["ack"] },
  { name: "outcome: timed out, no retries → FAILED (TIMED_OUT)", step: () => outcome(running(), { attempt: 1, result: { kind: "timedOut", timeoutMs: 50 } }, NOW), state: RunState.RUN_STATE_FAILED, event: EventType.EVENT_TYPE_TIMED_OUT, effects: ["ack"], check: (s) => { assert.equal(s.write?.error?.type, "TimeoutError"); assert.equal(s.write?.attempts[0]?.outcome, AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT); } },
  { name: "outcome: timed out, retries left → AWAITING_RETRY", step: () => outcome(running(1, { options: options({ retry: retryPolicy }) }), { attempt: 1, result: { kind: "timedOut", timeoutMs: 50 } }, NOW), state: RunState.RUN_STATE_AWAITING_RETRY, event: EventType.EVENT_TYPE_RETRY_SCHEDULED, effects: ["nak"] },
  { name: "outcome: aborted by cancel → CANCELLED, ack", step: () => outcome(running(1, { cancelRequested: true }), { attempt: 1, result: { kind: "cancelled", reason: "user" } }, NOW), state: RunState.RUN_STATE_CANCELLED, event: EventType.EVENT_TYPE_CANCELLED, effects: ["ack"], check: (s) => assert.equal(s.write?.error?.message, "user") },
  { name: "outcome refused: another attempt took over → no write, the message left to that attempt", step: () => outcome(running(2), { attempt: 1, result: { kind: "completed", result: { contentType: "application/json", data: Buffer.from("1") }, resultRef: "" } }, NOW), effects: [] },
  { name: "outcome refused: already terminal (first terminal state wins)", step: () => outcome(running(1, { state: RunState.RUN_STATE_CANCELLED }), { attempt: 1, result: { kind: "completed", result: { contentType: "application/json", data: Buffer.from("1") }, resultRef: "" } }, NOW), effects: ["ack"] },
  { name: "outcome refused: crash recorded meanwhile (PENDING) → no write, no ack", step: () => outcome(running(1, { state: RunState.RUN_STATE_PENDING }), { attempt: 1, result: { kind: "failed", failure: { type: "E", message: "m", stack: "", retryable: true } } }, NOW), effects: [] },

  // a start folded into the outcome (the worker's startRecordDelayMs)
  { name: "foldedOutcome: PENDING, returned → COMPLETED with the start in the same revision", step: () => foldedOutcome(run(), { start: { claim: claimInput, startedAt: at(-3) }, attempt: 1, result: completed }, NOW), state: RunState.RUN_STATE_COMPLETED, event: EventType.EVENT_TYPE_COMPLETED, effects: ["ack"], check: (s) => { assert.equal(s.write?.foldsStart, true); assert.equal(s.write?.attempt, 1); assert.equal(s.write?.workerId, "w1"); assert.equal(s.write?.attempts[0]?.startedAt?.getTime(), T - 3); assert.equal(s.write?.startedAt?.getTime(), T - 3); assert.equal(s.write?.attempts[0]?.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED); } },
  { name: "foldedOutcome: AWAITING_RETRY due, threw, retries left → AWAITING_RETRY (attempt 2), folded", step: () => foldedOutcome(running(1, { state: RunState.RUN_STATE_AWAITING_RETRY, nextAttemptAt: at(-9), options: options({ retry: { ...retryPolicy, maxRetries: 3 } }) }), { start: { claim: claimInput, startedAt: at(-2) }, attempt: 2, result: { kind: "failed", failure: { type: "E", message: "m", stack: "", retryable: true } } }, NOW), state: RunState.RUN_STATE_AWAITING_RETRY, event: EventType.EVENT_TYPE_RETRY_SCHEDULED, effects: ["nak"], check: (s) => { assert.equal(s.write?.attempt, 2); assert.equal(s.write?.foldsStart, true); } },
  { name: "foldedOutcome refused: cancelled before the start was written → ack, result not recorded", step: () => foldedOutcome(run({ state: RunState.RUN_STATE_CANCELLED }), { start: { claim: claimInput, startedAt: at(-3) }, attempt: 1, result: completed }, NOW), effects: ["ack"] },
  { name: "foldedOutcome: cancel requested meanwhile → CANCELLED (claim's decision)", step: () => foldedOutcome(run({ cancelRequested: true }), { start: { claim: claimInput, startedAt: at(-3) }, attempt: 1, result: completed }, NOW), state: RunState.RUN_STATE_CANCELLED, event: EventType.EVENT_TYPE_CANCELLED, effects: ["ack"], check: (s) => assert.equal(s.write?.foldsStart, false) },
  { name: "foldedOutcome: RUNNING written by this attempt after all → plain outcome", step: () => foldedOutcome(running(1, { workerId: "w1" }), { start: { claim: claimInput, startedAt: at(-3) }, attempt: 1, result: completed }, NOW), state: RunState.RUN_STATE_COMPLETED, event: EventType.EVENT_TYPE_COMPLETED, effects: ["ack"], check: (s) => assert.equal(s.write?.foldsStart, false) },
  { name: "foldedOutcome refused: another attempt holds the run → no write, no crash recorded", step: () => foldedOutcome(running(2), { start: { claim: claimInput, startedAt: at(-3) }, attempt: 1, result: completed }, NOW), effects: [] },
  { name: "recordStart: PENDING → RUNNING dated at the attempt's start", step: () => recordStart(run(), { claim: claimInput, startedAt: at(-40) }, NOW), state: RunState.RUN_STATE_RUNNING, event: EventType.EVENT_TYPE_STARTED, effects: ["execute"], check: (s) => assert.equal(s.write?.attempts[0]?.startedAt?.getTime(), T - 40) },
  { name: "recordStart refused: cancelled meanwhile → no start (the attempt is told to stop)", step: () => recordStart(run({ state: RunState.RUN_STATE_CANCELLED }), { claim: claimInput, startedAt: at(-40) }, NOW), effects: ["ack"] },
  { name: "recordStart refused: another attempt holds the run → nothing written (no crash recorded)", step: () => recordStart(running(1), { claim: claimInput, startedAt: at(-40) }, NOW), effects: [] },
  { name: "a later write clears foldsStart", step: () => appendLog(running(1, { foldsStart: true }), { attempt: 1, line: { time: NOW, level: "info", message: "x", attempt: 1 } }, NOW), state: RunState.RUN_STATE_RUNNING, event: EventType.EVENT_TYPE_LOG, effects: [], check: (s) => assert.equal(s.write?.foldsStart, false) },

  // cancel
  { name: "cancel: PENDING → CANCELLED at once", step: () => cancel(run(), { reason: "no" }, NOW), state: RunState.RUN_STATE_CANCELLED, event: EventType.EVENT_TYPE_CANCELLED, effects: [], check: (s) => assert.equal(s.write?.error?.message, "no") },
  { name: "cancel: SCHEDULED → CANCELLED at once", step: () => cancel(run({ state: RunState.RUN_STATE_SCHEDULED }), { reason: "" }, NOW), state: RunState.RUN_STATE_CANCELLED, event: EventType.EVENT_TYPE_CANCELLED, effects: [] },
  { name: "cancel: AWAITING_RETRY → CANCELLED at once", step: () => cancel(running(1, { state: RunState.RUN_STATE_AWAITING_RETRY }), { reason: "" }, NOW), state: RunState.RUN_STATE_CANCELLED, event: EventType.EVENT_TYPE_CANCELLED, effects: [] },
  { name: "cancel: RUNNING → cancel requested, worker notified", step: () => cancel(running(), { reason: "r" }, NOW), state: RunState.RUN_STATE_RUNNING, event: EventType.EVENT_TYPE_CANCEL_REQUESTED, effects: ["notifyCancel"], check: (s) => assert.equal(s.write?.cancelRequested, true) },
  { name: "cancel: RUNNING, already requested → notified again, no write", step: () => cancel(running(1, { cancelRequested: true }), { reason: "r" }, NOW), effects: ["notifyCancel"] },
  { name: "cancel: CANCELLED → no change", step: () => cancel(run({ state: RunState.RUN_STATE_CANCELLED }), { reason: "" }, NOW), effects: [] },
  { name: "cancel refused: COMPLETED", step: () => cancel(run({ state: RunState.RUN_STATE_COMPLETED }), { reason: "" }, NOW), effects: [], refused: "finished" },
  { name: "cancel refused: FAILED", step: () => cancel(run({ state: RunState.RUN_STATE_FAILED }), { reason: "" }, NOW), effects: [], refused: "finished" },

  // retry (the Retry RPC)
  { name: "retry: FAILED → PENDING, queued with a fresh message id", step: () => retry(running(2, { state: RunState.RUN_STATE_FAILED }), NOW), state: RunState.RUN_STATE_PENDING, event: EventType.EVENT_TYPE_RESUBMITTED, effects: ["enqueue"], check: (s) => { assert.deepEqual(s.effects[0], { type: "enqueue", msgId: "r1:retry:2" }); assert.equal(s.write?.dispatch, 1, "a new dispatch fences the old message"); } },
  { name: "retry: CANCELLED → PENDING, cancel request cleared", step: () => retry(running(1, { state: RunState.RUN_STATE_CANCELLED, cancelRequested: true }), NOW), state: RunState.RUN_STATE_PENDING, event: EventType.EVENT_TYPE_RESUBMITTED, effects: ["enqueue"], check: (s) => assert.equal(s.write?.cancelRequested, false) },
  ...[RunState.RUN_STATE_PENDING, RunState.RUN_STATE_SCHEDULED, RunState.RUN_STATE_RUNNING, RunState.RUN_STATE_AWAITING_RETRY, RunState.RUN_STATE_COMPLETED].map(
    (state): Row => ({ name: `retry refused: ${RunState[state]}`, step: () => retry(run({ state }), NOW), effects: [], refused: "not-retryable" }),
  ),

  // release (scheduler)
  { name: "release: due → PENDING (RELEASED), queued, ack", step: () => release(run({ state: RunState.RUN_STATE_SCHEDULED, scheduledAt: at(-1) }), { dependencies: [] }, NOW), state: RunState.RUN_STATE_PENDING, event: EventType.EVENT_TYPE_RELEASED, effects: ["enqueue", "ack"] },
  { name: "release refused: not yet due → nak until due", step: () => release(run({ state: RunState.RUN_STATE_SCHEDULED, scheduledAt: at(2_000) }), { dependencies: [] }, NOW), effects: ["nak"], check: (s) => assert.deepEqual(s.effects, [{ type: "nak", delayMs: 2_000 }]) },
  { name: "release refused: due in an hour → nak at most 30 s", step: () => release(run({ state: RunState.RUN_STATE_SCHEDULED, scheduledAt: at(3_600_000) }), { dependencies: [] }, NOW), effects: ["nak"], check: (s) => assert.deepEqual(s.effects, [{ type: "nak", delayMs: 30_000 }]) },
  { name: "release: dependencies completed → PENDING", step: () => release(run({ state: RunState.RUN_STATE_SCHEDULED, options: options({ waitFor: ["a", "b"] }) }), { dependencies: [RunState.RUN_STATE_COMPLETED, RunState.RUN_STATE_COMPLETED] }, NOW), state: RunState.RUN_STATE_PENDING, event: EventType.EVENT_TYPE_RELEASED, effects: ["enqueue", "ack"] },
  { name: "release refused: a dependency still running → look again", step: () => release(run({ state: RunState.RUN_STATE_SCHEDULED, options: options({ waitFor: ["a", "b"] }) }), { dependencies: [RunState.RUN_STATE_COMPLETED, RunState.RUN_STATE_RUNNING] }, NOW), effects: ["nak"] },
  { name: "release: a dependency failed → FAILED (DependencyFailed)", step: () => release(run({ state: RunState.RUN_STATE_SCHEDULED, options: options({ waitFor: ["a", "b"] }) }), { dependencies: [RunState.RUN_STATE_FAILED, RunState.RUN_STATE_RUNNING] }, NOW), state: RunState.RUN_STATE_FAILED, event: EventType.EVENT_TYPE_FAILED, effects: ["ack"], check: (s) => assert.match(s.write?.error?.message ?? "", /: a$/) },
  { name: "release: a dependency expired (no record) → FAILED", step: () => release(run({ state: RunState.RUN_STATE_SCHEDULED, options: options({ waitFor: ["a"] }) }), { dependencies: [undefined] }, NOW), state: RunState.RUN_STATE_FAILED, event: EventType.EVENT_TYPE_FAILED, effects: ["ack"] },
  { name: "release: a dependency failed, runIfDependenciesFail → PENDING", step: () => release(run({ state: RunState.RUN_STATE_SCHEDULED, options: options({ waitFor: ["a"], runIfDependenciesFail: true }) }), { dependencies: [RunState.RUN_STATE_CANCELLED] }, NOW), state: RunState.RUN_STATE_PENDING, event: EventType.EVENT_TYPE_RELEASED, effects: ["enqueue", "ack"] },
  { name: "release: already released, not started → queued again (deduplicated), ack", step: () => release(run(), { dependencies: [] }, NOW), effects: ["enqueue", "ack"] },
  { name: "release refused: cancelled meanwhile → ack", step: () => release(run({ state: RunState.RUN_STATE_CANCELLED }), { dependencies: [] }, NOW), effects: ["ack"] },
  { name: "release refused: already started → ack", step: () => release(running(), { dependencies: [] }, NOW), effects: ["ack"] },

  // expire (the scheduler's deadline message)
  { name: "expire: past the deadline, not started → FAILED (EXPIRED)", step: () => expire(run({ options: options({ scheduleToStartTimeoutMs: 100 }) }), NOW), state: RunState.RUN_STATE_FAILED, event: EventType.EVENT_TYPE_EXPIRED, effects: ["ack"] },
  { name: "expire: SCHEDULED past the deadline → FAILED (EXPIRED)", step: () => expire(run({ state: RunState.RUN_STATE_SCHEDULED, options: options({ scheduleToStartTimeoutMs: 100 }) }), NOW), state: RunState.RUN_STATE_FAILED, event: EventType.EVENT_TYPE_EXPIRED, effects: ["ack"] },
  { name: "expire refused: deadline ahead → nak until then", step: () => expire(run({ options: options({ scheduleToStartTimeoutMs: 1_500 }) }), NOW), effects: ["nak"], check: (s) => assert.deepEqual(s.effects, [{ type: "nak", delayMs: 500 }]) },
  { name: "expire refused: started in time → ack", step: () => expire(running(1, { options: options({ scheduleToStartTimeoutMs: 100 }) }), NOW), effects: ["ack"] },
  { name: "expire refused: finished → ack", step: () => expire(run({ state: RunState.RUN_STATE_CANCELLED, options: options({ scheduleToStartTimeoutMs: 100 }) }), NOW), effects: ["ack"] },
  { name: "expire refused: no deadline → ack", step: () => expire(run(), NOW), effects: ["ack"] },

  // logs and progress
  { name: "appendLog: running attempt → LOG", step: () => appendLog(running(), { attempt: 1, line: { time: NOW, level: "info", message: "hi", attempt: 1 } }, NOW), state: RunState.RUN_STATE_RUNNING, event: EventType.EVENT_TYPE_LOG, effects: [], check: (s) => assert.equal(s.write?.logs.at(-1)?.message, "hi") },
  { name: "appendLog refused: another attempt's line", step: () => appendLog(running(2), { attempt: 1, line: { time: NOW, level: "info", message: "hi", attempt: 1 } }, NOW), effects: [] },
  { name: "reportProgress: running attempt → PROGRESS", step: () => reportProgress(running(), { attempt: 1, progress: { fraction: 0.5, message: "half" } }, NOW), state: RunState.RUN_STATE_RUNNING, event: EventType.EVENT_TYPE_PROGRESS, effects: [] },
  { name: "reportProgress refused: run finished", step: () => reportProgress(running(1, { state: RunState.RUN_STATE_COMPLETED }), { attempt: 1, progress: { fraction: 0.5, message: "" } }, NOW), effects: [] },
];

describe("run lifecycle (pure functions)", () => {
  for (const row of rows) {
    it(row.name, () => {
      const s = row.step();
      assert.deepEqual(s.effects.map((e) => e.type), row.effects, "effects");
      assert.equal(s.refused?.reason, row.refused, "refusal");
      if (row.state === undefined) {
        assert.equal(s.write, undefined, "no write");
      } else {
        assert.ok(s.write, "a write");
        assert.equal(RunState[s.write.state], RunState[row.state], "state");
        assert.equal(s.event, row.event, "event");
        assert.equal(s.write.lastEvent, row.event, "the record carries its event");
        assert.equal(s.write.updatedAt?.getTime(), NOW.getTime(), "updatedAt = now");
      }
      row.check?.(s);
    });
  }

  it("never changes the record it is given", () => {
    const r = running(1, { options: options({ retry: retryPolicy }) });
    const before = structuredClone(r);
    outcome(r, { attempt: 1, result: { kind: "failed", failure: { type: "E", message: "m", stack: "", retryable: true } } }, NOW);
    claim(r, claimInput, NOW);
    cancel(r, { reason: "" }, NOW);
    assert.deepEqual(r, before);
  });
});
