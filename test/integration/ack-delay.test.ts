import assert from "node:assert/strict";
import type { JsMsg } from "@nats-io/jetstream";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { task } from "@taskwire/client";
import { ACK_BATCH_MAX, AckBatcher, RUNS_STREAM, taskConsumerName } from "@taskwire/core";
import { startWorker, uniq, waitFor } from "../helpers/env.js";
import { useStack } from "../helpers/stack.js";

// The worker's ack delay (ackDelayMs, default 5 ms): the acks of finished
// runs leave together, after their outcomes are recorded; a worker's stop
// sends the ones it holds; a task with a concurrencyLimit acks at once.

/** A delivered message that counts its acks (and may fail them, as on a closed connection). */
function fakeMsg(fail = false): JsMsg & { acks: number } {
  const m = {
    acks: 0,
    ack() {
      if (fail) throw new Error("closed");
      m.acks++;
    },
  };
  return m as unknown as JsMsg & { acks: number };
}

describe("AckBatcher", function () {
  it("with a delay of 0 acks each message at once", function () {
    const b = new AckBatcher(0);
    const m = fakeMsg();
    b.ack(m);
    assert.equal(m.acks, 1);
    assert.equal(b.pending, 0);
  });

  it("holds acks for the delay after the first, then sends them all", async function () {
    const b = new AckBatcher(30);
    const ms = [fakeMsg(), fakeMsg(), fakeMsg()];
    for (const m of ms) b.ack(m);
    assert.equal(b.pending, 3);
    assert.deepEqual(ms.map((m) => m.acks), [0, 0, 0]);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(ms.map((m) => m.acks), [1, 1, 1]);
    assert.equal(b.pending, 0);
  });

  it("sends at once when ACK_BATCH_MAX are held, and on flush()", function () {
    const b = new AckBatcher(60_000);
    const ms = Array.from({ length: ACK_BATCH_MAX }, () => fakeMsg());
    for (const m of ms) b.ack(m);
    assert.ok(ms.every((m) => m.acks === 1), "the batch left when full");
    const late = fakeMsg();
    b.ack(late);
    assert.equal(late.acks, 0);
    b.flush();
    assert.equal(late.acks, 1);
    assert.equal(b.pending, 0);
  });

  it("a failing ack (closed connection) does not stop the others or throw", function () {
    const b = new AckBatcher(60_000);
    const bad = fakeMsg(true);
    const good = fakeMsg();
    b.ack(bad);
    b.ack(good);
    assert.doesNotThrow(() => b.flush());
    assert.equal(good.acks, 1);
  });
});

describe("the worker's ack delay", function () {
  const name = uniq("ackdelay");
  const add = task(`${name}-add`, async (a: number, b: number) => a + b);
  const limited = task(`${name}-limited`, async (n: number) => n, { concurrencyLimit: 1 });
  const stack = useStack({ tasks: [add, limited], worker: { ackDelayMs: 1_000 } });

  async function ackPending(taskName: string): Promise<number> {
    const nc = await connect({ servers: stack.nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      return (await jsm.consumers.info(RUNS_STREAM, taskConsumerName("default", taskName))).num_ack_pending;
    } finally {
      await nc.close();
    }
  }

  it("records the outcome first and acks after the delay", async function () {
    const run = await add.using(stack.client).delay(2, 3);
    assert.equal(await run.result({ timeoutMs: 10_000 }), 5);
    const t = performance.now();
    const held = await ackPending(add.taskName);
    // Looked at within the second the ack is held (a machine too busy to look in time proves nothing either way).
    if (performance.now() - t < 800) assert.equal(held, 1, "the ack is held for ackDelayMs");
    await waitFor(async () => (await ackPending(add.taskName)) === 0, "the held ack sent", 5_000);
  });

  it("acks a task with a concurrencyLimit at once, so its next run is delivered without waiting", async function () {
    const t0 = performance.now();
    const runs = await Promise.all([1, 2, 3].map((n) => limited.using(stack.client).delay(n)));
    assert.deepEqual(await Promise.all(runs.map((r) => r.result({ timeoutMs: 10_000 }))), [1, 2, 3]);
    // With its acks held for 1 s, the limit of 1 would hold the next run back until the held ack leaves (≥ 1 s; 60–90 ms without).
    assert.ok(performance.now() - t0 < 900, `3 runs took ${Math.round(performance.now() - t0)} ms`);
  });

  it("sends the acks it holds when it stops", async function () {
    const w = await startWorker(stack.nats.url, [add], { ackDelayMs: 1_000, concurrency: 2 });
    try {
      await stack.worker.stop();
      const run = await add.using(stack.client).delay(4, 5);
      assert.equal(await run.result({ timeoutMs: 10_000 }), 9);
      assert.equal(await ackPending(add.taskName), 1, "held for a second");
    } finally {
      await w.stop();
    }
    // The stop sent it: not left for a redelivery after ack_wait (2 × heartbeatMs).
    assert.equal(await ackPending(add.taskName), 0, "sent by the stop");
  });
});
