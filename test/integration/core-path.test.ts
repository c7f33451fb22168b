import assert from "node:assert/strict";
import { Client, context, EventType, NonRetryableError, RunFailedError, RunState, ResultTimeoutError, task, Status, TaskwireError, waitAll } from "@taskwire/client";
import { uniq, waitFor, startWorker } from "../helpers/env.js";
import { useStack } from "../helpers/stack.js";

describe("core path (real nats-server, in-process broker and worker)", function () {

  const name = uniq("core");
  const add = task(`${name}-add`, async (a: number, b: number) => a + b);
  const greet = task(`${name}-greet`, async (who: { name: string }) => `hi ${who.name}`);
  const boom = task(`${name}-boom`, async (msg: string): Promise<never> => {
    throw new NonRetryableError(msg, { type: "BoomError" });
  });
  const flaky = task(`${name}-flaky`, async () => {
    if (context().attempt < 3) throw new TypeError(`attempt ${context().attempt} fails`);
    return context().attempt;
  }, { retries: 3, retryDelaysMs: [50] });
  const slow = task(`${name}-slow`, async (ms: number) => {
    const { signal, log, progress } = context();
    log.info("starting");
    progress(0.5, "half");
    await new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      signal.addEventListener("abort", () => { clearTimeout(t); r(); }, { once: true });
    });
    return ms;
  });
  const stubborn = task(`${name}-stubborn`, async () => {
    // Ignores its signal on purpose: the attempt must still time out.
    await new Promise((r) => setTimeout(r, 5_000));
    return "late";
  }, { timeoutMs: 200 });

  const stack = useStack({ tasks: [add, greet, boom, flaky, slow, stubborn], worker: { concurrency: 8 } });

  it("submits, executes and returns a typed result", async function () {
    const run = await add.using(stack.client).delay(2, 3);
    assert.match(run.id, /^[0-9a-f-]{36}$/);
    const result: number = await run.result({ timeoutMs: 10_000 });
    assert.equal(result, 5);
    const st = await run.status();
    assert.equal(st.state, RunState.RUN_STATE_COMPLETED);
    assert.equal(st.attempt, 1);
    assert.equal(st.attempts.length, 1);
    assert.ok(st.startedAt && st.finishedAt);
  });

  it("runs a task directly without the broker", async function () {
    assert.equal(await add(20, 22), 42);
  });

  it("passes JSON objects through unchanged", async function () {
    const run = await greet.using(stack.client).delay({ name: "Grace" });
    assert.equal(await run.result({ timeoutMs: 10_000 }), "hi Grace");
  });

  it("records failures with type, message and stack, without retrying a NonRetryableError", async function () {
    const run = await boom.using(stack.client).delay("kaput");
    await assert.rejects(run.result({ timeoutMs: 10_000 }), (err: unknown) => {
      assert.ok(err instanceof RunFailedError);
      assert.equal(err.failure.type, "BoomError");
      assert.equal(err.failure.message, "kaput");
      assert.match(err.failure.stack, /core-path\.test\.ts/);
      return true;
    });
    const st = await run.status();
    assert.equal(st.state, RunState.RUN_STATE_FAILED);
    assert.equal(st.attempt, 1);
  });

  it("retries per the task's policy and keeps every attempt's error", async function () {
    const run = await flaky.using(stack.client).delay();
    assert.equal(await run.result({ timeoutMs: 10_000 }), 3);
    const st = await run.status();
    assert.equal(st.attempts.length, 3);
    assert.deepEqual(st.attempts.map((a) => a.error?.type ?? ""), ["TypeError", "TypeError", ""]);
    const types: EventType[] = [];
    for await (const e of run.events()) types.push(e.type);
    assert.deepEqual(types, [
      EventType.EVENT_TYPE_SUBMITTED,
      EventType.EVENT_TYPE_STARTED, EventType.EVENT_TYPE_RETRY_SCHEDULED,
      EventType.EVENT_TYPE_STARTED, EventType.EVENT_TYPE_RETRY_SCHEDULED,
      EventType.EVENT_TYPE_STARTED, EventType.EVENT_TYPE_COMPLETED,
    ]);
  });

  it("streams every event of a run in order, and resumes after a cursor with nothing missed", async function () {
    const run = await slow.using(stack.client).delay(300);
    await run.result({ timeoutMs: 10_000 });
    const all = [];
    for await (const e of run.events()) all.push(e);
    const types = all.map((e) => e.type);
    assert.equal(types[0], EventType.EVENT_TYPE_SUBMITTED);
    assert.equal(types.at(-1), EventType.EVENT_TYPE_COMPLETED);
    assert.ok(types.includes(EventType.EVENT_TYPE_LOG), "log line appears as an event");
    assert.ok(types.includes(EventType.EVENT_TYPE_PROGRESS), "progress appears as an event");
    const cursors = all.map((e) => Number(e.cursor));
    assert.deepEqual([...cursors].sort((a, b) => a - b), cursors, "cursors increase");
    const resumed = [];
    for await (const e of run.events({ afterCursor: all[1]?.cursor })) resumed.push(e.cursor);
    assert.deepEqual(resumed, all.slice(2).map((e) => e.cursor));
  });

  it("sends heartbeats with a cursor on an idle stream", async function () {
    const stream = stack.client.openEventStream({ tasks: [uniq("idle")], heartbeatIntervalMs: 150 });
    const got = await new Promise<{ time?: Date; cursor: string }>((resolve, reject) => {
      stream.on("data", (m: { heartbeat?: { time?: Date; cursor: string } }) => m.heartbeat && resolve(m.heartbeat));
      stream.on("error", reject);
    });
    stream.cancel();
    assert.ok(got.time instanceof Date);
  });

  it("follows live events of a task", async function () {
    const liveTask = task(uniq("live"), async (x: number) => x);
    const w = await startWorker(stack.nats.url, [liveTask]);
    const stream = stack.client.openEventStream({ tasks: [liveTask.taskName], heartbeatIntervalMs: 100 });
    try {
      const seen: string[] = [];
      let ready!: () => void;
      const heartbeat = new Promise<void>((r) => (ready = r));
      let completed!: (id: string) => void;
      const done = new Promise<string>((r) => (completed = r));
      stream.on("data", (m: { event?: { runId: string; type: EventType }; heartbeat?: unknown }) => {
        // The first heartbeat comes once the broker's consumer exists, so
        // nothing submitted after it can be missed.
        if (m.heartbeat) ready();
        if (m.event) {
          seen.push(`${m.event.runId}:${EventType[m.event.type]}`);
          if (m.event.type === EventType.EVENT_TYPE_COMPLETED) completed(m.event.runId);
        }
      });
      stream.on("error", () => {});
      await heartbeat;
      const run = await liveTask.using(stack.client).delay(1);
      assert.equal(await done, run.id);
      assert.deepEqual(seen, [`${run.id}:EVENT_TYPE_SUBMITTED`, `${run.id}:EVENT_TYPE_STARTED`, `${run.id}:EVENT_TYPE_COMPLETED`]);
    } finally {
      stream.cancel();
      await w.stop();
    }
  });

  it("waits in GetStatus until terminal, bounded by the timeout", async function () {
    const run = await slow.using(stack.client).delay(2_000);
    const t0 = Date.now();
    const st = await stack.client.getStatus(run.id, 300);
    const waited = Date.now() - t0;
    assert.ok(waited >= 250 && waited < 1_500, `waited ${waited} ms`);
    assert.ok(st.state === RunState.RUN_STATE_PENDING || st.state === RunState.RUN_STATE_RUNNING);
    await assert.rejects(run.result({ timeoutMs: 200 }), ResultTimeoutError);
    assert.equal(await run.result({ timeoutMs: 10_000 }), 2_000);
  });

  it("cancels a running run: its signal aborts and it ends CANCELLED", async function () {
    const run = await slow.using(stack.client).delay(30_000);
    await waitFor(async () => (await run.status()).state === RunState.RUN_STATE_RUNNING, "run to start");
    await run.cancel("changed my mind");
    const st = await run.wait({ timeoutMs: 10_000 });
    assert.equal(st.state, RunState.RUN_STATE_CANCELLED);
    assert.match(st.error?.message ?? "", /changed my mind/);
    // Cancelling again is harmless; cancelling a completed run is FAILED_PRECONDITION.
    assert.equal((await run.cancel()).state, RunState.RUN_STATE_CANCELLED);
    const done = await add.using(stack.client).delay(1, 2);
    await done.result({ timeoutMs: 10_000 });
    await assert.rejects(done.cancel(), (e: unknown) => e instanceof TaskwireError && e.code === Status.FAILED_PRECONDITION);
  });

  it("times out an attempt that ignores its signal, and frees the slot", async function () {
    const run = await stubborn.using(stack.client).delay();
    const st = await run.wait({ timeoutMs: 10_000 });
    assert.equal(st.state, RunState.RUN_STATE_FAILED);
    assert.equal(st.error?.type, "TimeoutError");
    assert.equal(st.lastEvent, EventType.EVENT_TYPE_TIMED_OUT);
    // The worker still serves: 8 quick runs complete at once.
    const many = await Promise.all(Array.from({ length: 8 }, (_, i) => add.using(stack.client).delay(i, i)));
    assert.deepEqual(await waitAll(many, { timeoutMs: 10_000 }), [0, 2, 4, 6, 8, 10, 12, 14]);
  });

  it("schedules a delayed run and starts it when due", async function () {
    const run = await add.using(stack.client).applyAsync([4, 5], { delayMs: 700 });
    assert.equal((await run.status()).state, RunState.RUN_STATE_SCHEDULED);
    const t0 = Date.now();
    assert.equal(await run.result({ timeoutMs: 10_000 }), 9);
    const st = await run.status();
    const startedLate = (st.startedAt?.getTime() ?? 0) - (st.createdAt?.getTime() ?? 0);
    assert.ok(startedLate >= 650, `started ${startedLate} ms after submit`);
    assert.ok(Date.now() - t0 < 5_000);
  });

  it("returns the same run for the same idempotency key", async function () {
    const key = uniq("order");
    const a = await add.using(stack.client).applyAsync([1, 1], { idempotencyKey: key });
    const b = await add.using(stack.client).applyAsync([1, 1], { idempotencyKey: key });
    assert.equal(a.id, b.id);
    await a.result({ timeoutMs: 10_000 });
    const c = await add.using(stack.client).applyAsync([1, 1], { idempotencyKey: key });
    assert.equal(c.id, a.id, "after completion too (beyond any dedupe window)");
  });

  it("submits a batch with map() and lists runs newest first with filters and paging", async function () {
    const handles = await add.using(stack.client).map([[1, 2], [3, 4], [5, 6]]);
    assert.deepEqual(await waitAll(handles, { timeoutMs: 10_000 }), [3, 7, 11]);
    const page1 = await stack.client.listRuns({ task: add.taskName, pageSize: 2 });
    assert.equal(page1.runs.length, 2);
    assert.ok(page1.nextPageToken);
    const ids = page1.runs.map((r) => r.id);
    assert.deepEqual([...ids].sort().reverse(), ids, "newest first");
    const page2 = await stack.client.listRuns({ task: add.taskName, pageSize: 2, pageToken: page1.nextPageToken });
    assert.ok(page2.runs.every((r) => r.id < (ids[1] ?? "")));
    const failed = await stack.client.listRuns({ states: [RunState.RUN_STATE_FAILED], pageSize: 100 });
    assert.ok(failed.runs.length > 0 && failed.runs.every((r) => r.state === RunState.RUN_STATE_FAILED));
  });

  it("lists each run once even while runs change state during the listing", async function () {
    const handles = await add.using(stack.client).map(Array.from({ length: 300 }, (_, i) => [i, 1] as [number, number]));
    const done = waitAll(handles, { timeoutMs: 30_000 });
    for (let i = 0; i < 5; i++) {
      const page = await stack.client.listRuns({ pageSize: 1000 });
      const ids = page.runs.map((r) => r.id);
      assert.equal(new Set(ids).size, ids.length, "no run listed twice");
    }
    await done;
  });

  it("rebuilds a handle from a run id in another client", async function () {
    const run = await add.using(stack.client).delay(7, 8);
    const other = new Client({ address: stack.broker.address });
    try {
      assert.equal(await other.handle<number>(run.id).result({ timeoutMs: 10_000 }), 15);
    } finally {
      other.close();
    }
  });
});
