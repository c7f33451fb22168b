import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { context, EventType, type RunEvent, RunState, task } from "@taskwire/client";
import { decodeRun, type TaskRun } from "@taskwire/protocol";
import { recordSubject, RUNS_BUCKET_STREAM } from "@taskwire/core";
import { uniq, waitFor } from "../helpers/env.js";
import { useStack } from "../helpers/stack.js";

// The worker's start-record delay (startRecordDelayMs, off by default:
// RUNNING is written before the task starts). 0: the RUNNING write leaves
// as the task starts, not waited for; with a delay, an attempt that ends
// within it records its start in its outcome's revision (one write), a
// longer one writes RUNNING when the delay is up; StreamEvents shows
// STARTED either way.

/** Every revision of a run's record, oldest first (its subject in the KV stream, read with an ordered consumer). */
async function history(natsUrl: string, id: string): Promise<TaskRun[]> {
  const nc = await connect({ servers: natsUrl });
  try {
    const c = await jetstream(nc).consumers.get(RUNS_BUCKET_STREAM, { filter_subjects: recordSubject(id), deliver_policy: DeliverPolicy.All });
    const out: TaskRun[] = [];
    for (;;) {
      const m = await c.next({ expires: 1_000 });
      if (!m) return out;
      if (m.data.length > 0) out.push(decodeRun(m.data));
      if (m.info.pending === 0) return out;
    }
  } finally {
    await nc.close();
  }
}

async function eventsOf(run: { events(): AsyncIterable<RunEvent> }): Promise<RunEvent[]> {
  const all: RunEvent[] = [];
  for await (const e of run.events()) all.push(e);
  return all;
}

describe("the start-record delay (a short attempt's start folded into its outcome)", function () {
  const name = uniq("fold");
  let aborted = 0;
  const quick = task(`${name}-quick`, async (n: number) => n + 1);
  const slow = task(`${name}-slow`, async (ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    return ms;
  });
  const chatty = task(`${name}-chatty`, async () => {
    context().log.info("first line");
    return "said";
  });
  const waiter = task(`${name}-waiter`, async () => {
    const signal = context().signal;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5_000);
      signal.addEventListener("abort", () => {
        aborted++;
        clearTimeout(t);
        resolve();
      });
    });
    return "finished";
  });

  describe("with a delay of 50 ms", function () {
    const stack = useStack({ tasks: [quick, slow, chatty], worker: { startRecordDelayMs: 50 } });

    it("records a short run in two revisions, PENDING then COMPLETED, and still streams SUBMITTED, STARTED, COMPLETED", async function () {
      const run = await quick.using(stack.client).delay(1);
      assert.equal(await run.result({ timeoutMs: 10_000 }), 2);
      const revs = await history(stack.nats.url, run.id);
      assert.deepEqual(revs.map((r) => r.state), [RunState.RUN_STATE_PENDING, RunState.RUN_STATE_COMPLETED]);
      const done = revs[1];
      assert.ok(done);
      assert.equal(done.foldsStart, true);
      assert.equal(done.attempt, 1);
      assert.equal(done.attempts[0]?.workerId, stack.worker.options.workerId);
      assert.ok(done.startedAt && done.finishedAt && done.startedAt <= done.finishedAt, "the start is dated");
      const events = await eventsOf(run);
      assert.deepEqual(events.map((e) => e.type), [EventType.EVENT_TYPE_SUBMITTED, EventType.EVENT_TYPE_STARTED, EventType.EVENT_TYPE_COMPLETED]);
      const [submitted, started, completed] = events.map((e) => Number(e.cursor));
      assert.ok(submitted !== undefined && started !== undefined && completed !== undefined);
      assert.ok(submitted <= started && started < completed, "cursors never decrease");
      assert.equal(events[1]?.state, RunState.RUN_STATE_RUNNING);
      // Resuming after the folded STARTED yields the revision's own event.
      const resumed: EventType[] = [];
      for await (const e of run.events({ afterCursor: events[1]?.cursor })) resumed.push(e.type);
      assert.deepEqual(resumed, [EventType.EVENT_TYPE_STARTED, EventType.EVENT_TYPE_COMPLETED]);
      const status = await run.status();
      assert.equal(status.lastEvent, EventType.EVENT_TYPE_COMPLETED);
    });

    it("writes RUNNING once an attempt outlives the delay, and shows it while it runs", async function () {
      const run = await slow.using(stack.client).delay(600);
      await waitFor(async () => (await run.status()).state === RunState.RUN_STATE_RUNNING, "RUNNING recorded", 5_000);
      assert.equal(await run.result({ timeoutMs: 10_000 }), 600);
      const revs = await history(stack.nats.url, run.id);
      assert.deepEqual(revs.map((r) => r.state), [RunState.RUN_STATE_PENDING, RunState.RUN_STATE_RUNNING, RunState.RUN_STATE_COMPLETED]);
      assert.equal(revs[2]?.foldsStart, false);
      assert.equal(revs[1]?.attempts[0]?.startedAt?.getTime(), revs[2]?.attempts[0]?.startedAt?.getTime(), "the start is dated when the attempt began");
      assert.deepEqual((await eventsOf(run)).map((e) => e.type), [EventType.EVENT_TYPE_SUBMITTED, EventType.EVENT_TYPE_STARTED, EventType.EVENT_TYPE_COMPLETED]);
    });

    it("writes RUNNING before a run's first log line", async function () {
      const run = await chatty.using(stack.client).delay();
      assert.equal(await run.result({ timeoutMs: 10_000 }), "said");
      assert.deepEqual((await eventsOf(run)).map((e) => e.type), [EventType.EVENT_TYPE_SUBMITTED, EventType.EVENT_TYPE_STARTED, EventType.EVENT_TYPE_LOG, EventType.EVENT_TYPE_COMPLETED]);
      const revs = await history(stack.nats.url, run.id);
      assert.ok(revs.every((r) => !r.foldsStart));
    });
  });

  describe("a cancel before the start is written", function () {
    const stack = useStack({ tasks: [waiter, quick], worker: { startRecordDelayMs: 400 } });

    it("wins: the run is CANCELLED and the attempt is told to stop when its start would be written", async function () {
      const before = aborted;
      const run = await waiter.using(stack.client).delay();
      // Started (the worker holds it) but still recorded PENDING.
      await new Promise((r) => setTimeout(r, 150));
      assert.equal((await run.status()).state, RunState.RUN_STATE_PENDING);
      await run.cancel("changed my mind");
      const st = await run.wait({ timeoutMs: 10_000 });
      assert.equal(st.state, RunState.RUN_STATE_CANCELLED);
      await waitFor(() => aborted > before, "the attempt aborted", 5_000);
      // Nothing overwrote the cancel: no attempt was recorded.
      const revs = await history(stack.nats.url, run.id);
      assert.deepEqual(revs.map((r) => r.state), [RunState.RUN_STATE_PENDING, RunState.RUN_STATE_CANCELLED]);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await run.status()).state, RunState.RUN_STATE_CANCELLED);
    });
  });

  describe("0: RUNNING sent as the task starts, not waited for", function () {
    const stack = useStack({ tasks: [quick], worker: { startRecordDelayMs: 0 } });

    it("still writes every state as its own revision, with strictly increasing cursors", async function () {
      const run = await quick.using(stack.client).delay(5);
      assert.equal(await run.result({ timeoutMs: 10_000 }), 6);
      const revs = await history(stack.nats.url, run.id);
      assert.deepEqual(revs.map((r) => r.state), [RunState.RUN_STATE_PENDING, RunState.RUN_STATE_RUNNING, RunState.RUN_STATE_COMPLETED]);
      assert.ok(revs.every((r) => !r.foldsStart));
      const events = await eventsOf(run);
      assert.deepEqual(events.map((e) => e.type), [EventType.EVENT_TYPE_SUBMITTED, EventType.EVENT_TYPE_STARTED, EventType.EVENT_TYPE_COMPLETED]);
      const cursors = events.map((e) => Number(e.cursor));
      assert.ok(cursors.every((c, i) => i === 0 || c > (cursors[i - 1] ?? 0)), `cursors increase: ${cursors.join(", ")}`);
    });
  });
  describe("off (the default): RUNNING before the task starts", function () {
    const stack = useStack({ tasks: [quick] });

    it("records RUNNING before the task runs", async function () {
      assert.equal(stack.worker.options.startRecordDelayMs, undefined);
      const run = await quick.using(stack.client).delay(7);
      assert.equal(await run.result({ timeoutMs: 10_000 }), 8);
      const revs = await history(stack.nats.url, run.id);
      assert.deepEqual(revs.map((r) => r.state), [RunState.RUN_STATE_PENDING, RunState.RUN_STATE_RUNNING, RunState.RUN_STATE_COMPLETED]);
      assert.ok((revs[1]?.updatedAt?.getTime() ?? Infinity) <= (revs[2]?.attempts[0]?.finishedAt?.getTime() ?? 0));
    });
  });
});
