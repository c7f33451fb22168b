import assert from "node:assert/strict";
import { Client, RunState, Status, TaskwireError, waitAll } from "@taskwire/client";
import type { Broker } from "@taskwire/broker";
import type { Worker } from "@taskwire/worker";
import { fixtures } from "../fixtures/index.js";
import { startBroker, startNats, startWorker, waitFor } from "../helpers/env.js";

describe("fault: nats-server restarts", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: Broker;
  let worker: Worker | undefined;
  let client: Client;

  before(async function () {
    nats = await startNats();
    broker = await startBroker(nats.url);
    // This suite probes the broker's own answers, so the client does not retry them.
    client = new Client({ address: broker.address, callRetry: false });
  });
  after(async function () {
    client?.close();
    await worker?.stop();
    await broker?.stop();
    await nats?.cleanup();
  });

  it("loses no acknowledged run: all complete after the restart", async function () {
    const n = 200;
    const handles = await Promise.all(Array.from({ length: n }, (_, i) => client.submit<number>(fixtures.add.taskName, [i, 1])));
    await nats.restart();
    worker = await startWorker(nats.url, [fixtures.add], { concurrency: 32 });
    const results = await waitAll(handles, { timeoutMs: 60_000 });
    assert.deepEqual(results, Array.from({ length: n }, (_, i) => i + 1));
  });

  it("answers UNAVAILABLE fast while NATS is down, and recovers by itself", async function () {
    await nats.stop();
    await waitFor(async () => {
      const t0 = Date.now();
      try {
        await client.submit(fixtures.add.taskName, [1, 1]);
        return false;
      } catch (err) {
        return err instanceof TaskwireError && err.code === Status.UNAVAILABLE && Date.now() - t0 < 1_000;
      }
    }, "a fast UNAVAILABLE", 15_000);
    await nats.start();
    const run = await waitFor(async () => client.submit<number>(fixtures.add.taskName, [2, 2]), "submit after NATS returns", 20_000);
    assert.equal(await run.result({ timeoutMs: 20_000 }), 4);
    assert.equal((await run.status()).state, RunState.RUN_STATE_COMPLETED);
  });
});
