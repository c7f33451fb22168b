import assert from "node:assert/strict";
import { Client, RunState, Status, TaskwireError } from "@taskwire/client";
import type { Broker } from "@taskwire/broker";
import { NatsHandle, RUNS_STREAM } from "@taskwire/core";
import { startBroker, startNats, uniq } from "../helpers/env.js";

describe("fault: the run cannot be queued", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: Broker;
  let client: Client;

  before(async function () {
    nats = await startNats();
    broker = await startBroker(nats.url);
    // This suite probes the broker's own answer, so the client does not retry it.
    client = new Client({ address: broker.address, callRetry: false });
  });
  after(async function () {
    client?.close();
    await broker?.stop();
    await nats?.cleanup();
  });

  it("answers an error and leaves no run that looks queued", async function () {
    const h = await NatsHandle.connect({ servers: nats.url });
    await h.jsm.streams.delete(RUNS_STREAM); // publishes to taskwire.run.* now fail
    await h.close();
    const task = uniq("orphan");
    await assert.rejects(client.submit(task, [1]), (e: unknown) => e instanceof TaskwireError && e.code === Status.UNAVAILABLE);
    const runs = (await client.listRuns({ task })).runs;
    assert.ok(runs.every((r) => r.state !== RunState.RUN_STATE_PENDING), "no PENDING record that will never run");
    for (const r of runs) {
      assert.equal(r.state, RunState.RUN_STATE_FAILED);
      assert.equal(r.error?.type, "SubmitFailed");
    }
  });
});
