import assert from "node:assert/strict";
import { Client, RunState, Status, task, TaskwireError } from "@taskwire/client";
import { type SubmitBatchRequest, SubmitRequest } from "@taskwire/protocol";
import type { Broker } from "@taskwire/broker";
import type { Worker } from "@taskwire/worker";
import { startBroker, startNats, startWorker, uniq } from "../helpers/env.js";

/** Counts the Submit and SubmitBatch calls a client makes (by wrapping its generated stub). */
function countCalls(client: Client): { submit: number; batch: number; batchSizes: number[] } {
  const n = { submit: 0, batch: 0, batchSizes: [] as number[] };
  const raw = client.raw as unknown as Record<string, (...a: unknown[]) => unknown>;
  const submit = raw.submit!.bind(client.raw);
  const batch = raw.submitBatch!.bind(client.raw);
  raw.submit = (...a: unknown[]) => (n.submit++, submit(...a));
  raw.submitBatch = (...a: unknown[]) => (n.batch++, n.batchSizes.push((a[0] as SubmitBatchRequest).runs.length), batch(...a));
  return n;
}

// Unary coalescing (`submitStream: false`); over SubmitStream: submit-stream.test.ts.
describe("Submit coalescing (SubmitBatch independent)", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: Broker;
  let worker: Worker;
  const double = task(uniq("double"), async (x: number) => x * 2);

  before(async function () {
    nats = await startNats();
    broker = await startBroker(nats.url);
    worker = await startWorker(nats.url, [double]);
  });
  after(async function () {
    await worker?.stop();
    await broker?.stop();
    await nats?.cleanup();
  });

  it("sends Submits of one turn as one call; each caller gets its own run, and each run executes once", async function () {
    const client = new Client({ address: broker.address, submitStream: false });
    const calls = countCalls(client);
    try {
      const handles = await Promise.all(Array.from({ length: 50 }, (_, i) => double.using(client).delay(i)));
      assert.equal(calls.batch, 1, "one SubmitBatch");
      assert.equal(calls.submit, 0);
      assert.deepEqual(calls.batchSizes, [50]);
      assert.equal(new Set(handles.map((h) => h.id)).size, 50, "50 distinct runs");
      const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 20_000 })));
      assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i * 2), "each caller's run has its own arguments");
      // A lone Submit is a plain Submit.
      await double.using(client).delay(7);
      assert.equal(calls.submit, 1);
      assert.equal(calls.batch, 1);
    } finally {
      client.close();
    }
  });

  it("fails only the bad item, with the error a single Submit gives, and enqueues the rest", async function () {
    const client = new Client({ address: broker.address, submitStream: false });
    const calls = countCalls(client);
    try {
      const settled = await Promise.allSettled([
        double.using(client).delay(1),
        client.submit("bad name!", [1]),
        client.submitRaw(SubmitRequest.fromPartial({ task: double.taskName, args: { contentType: "application/json", data: Buffer.from("{not json") } })),
        double.using(client).delay(2),
      ]);
      assert.equal(calls.batch, 1);
      assert.equal(calls.submit, 0, "answered per item, no resubmission one by one");
      assert.equal(settled[0].status, "fulfilled");
      assert.equal(settled[3].status, "fulfilled");
      for (const i of [1, 2]) {
        const r = settled[i]!;
        assert.equal(r.status, "rejected");
        const err = (r as PromiseRejectedResult).reason as unknown;
        assert.ok(err instanceof TaskwireError && err.code === Status.INVALID_ARGUMENT, `item ${i}: ${String(err)}`);
        assert.doesNotMatch(err.message, /runs\[/, "names the field as the caller wrote it");
      }
      assert.match(((settled[1] as PromiseRejectedResult).reason as Error).message, /^task/);
      const ok = [settled[0], settled[3]].map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<typeof double.delay>>>).value);
      assert.deepEqual(await Promise.all(ok.map((h) => h.result({ timeoutMs: 20_000 }))), [2, 4]);
    } finally {
      client.close();
    }
  });

  it("keeps idempotency keys: two coalesced Submits with one key are one run", async function () {
    const client = new Client({ address: broker.address, submitStream: false });
    try {
      const key = uniq("idem");
      const [a, b] = await Promise.all([double.using(client).applyAsync([5], { idempotencyKey: key }), double.using(client).applyAsync([5], { idempotencyKey: key })]);
      assert.equal(a.id, b.id);
      const run = await client.getStatus(a.id, 20_000);
      assert.equal(run.state, RunState.RUN_STATE_COMPLETED);
      assert.equal(run.attempt, 1, "executed once");
    } finally {
      client.close();
    }
  });

  it("answers every waiting caller with the call's error when the broker is unreachable", async function () {
    const client = new Client({ address: "127.0.0.1:1", callTimeoutMs: 2_000, submitStream: false });
    try {
      const settled = await Promise.allSettled(Array.from({ length: 5 }, () => double.using(client).delay(1)));
      for (const s of settled) {
        assert.equal(s.status, "rejected");
        const err = (s as PromiseRejectedResult).reason as unknown;
        assert.ok(err instanceof TaskwireError && (err.code === Status.UNAVAILABLE || err.code === Status.DEADLINE_EXCEEDED), String(err));
      }
    } finally {
      client.close();
    }
  });

  it("coalesceSubmits: false sends every Submit on its own", async function () {
    const client = new Client({ address: broker.address, coalesceSubmits: false });
    const calls = countCalls(client);
    try {
      await Promise.all(Array.from({ length: 5 }, (_, i) => double.using(client).delay(i)));
      assert.equal(calls.batch, 0);
      assert.equal(calls.submit, 5);
    } finally {
      client.close();
    }
  });
});
