// Start-up against a NATS cluster that cannot serve JetStream yet (a Helm
// install brings NATS and taskwire up together): the streams and buckets are
// set up once JetStream answers, instead of the process exiting on the first
// "JetStream system temporarily unavailable".
import assert from "node:assert/strict";
import { ensureResources, jetStreamNotReady, NatsHandle } from "@taskwire/core";
import { JetStreamApiError } from "@nats-io/jetstream";
import { NatsCluster } from "../helpers/cluster.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("fault: start-up while the NATS cluster cannot serve JetStream yet", function () {
  this.timeout(180_000);
  let cluster: NatsCluster | undefined;
  let h: NatsHandle | undefined;

  after(async function () {
    await h?.close();
    await cluster?.stop();
  });

  it("tells JetStream not being ready from a configuration error", function () {
    assert.equal(jetStreamNotReady(new JetStreamApiError({ code: 503, err_code: 10008, description: "JetStream system temporarily unavailable" })), true);
    assert.equal(jetStreamNotReady(Object.assign(new Error("timeout"), { name: "TimeoutError" })), true);
    assert.equal(jetStreamNotReady(new JetStreamApiError({ code: 400, err_code: 10058, description: "stream name already in use with a different configuration" })), false);
    assert.equal(jetStreamNotReady(new Error("JetStream not enabled")), false);
    assert.equal(jetStreamNotReady(new JetStreamApiError({ code: 503, err_code: 10039, description: "jetstream not enabled for account" })), false);
    // A peer still joining (or back from a restart) is waited for; too few nodes for the replicas asked is the configuration.
    assert.equal(jetStreamNotReady(new JetStreamApiError({ code: 500, err_code: 10005, description: "no suitable peers for placement, peer offline" })), true);
    assert.equal(jetStreamNotReady(new JetStreamApiError({ code: 500, err_code: 10005, description: "no suitable peers for placement, replicas > peers" })), false);
  });

  it("waits while 2 of 3 nodes are down (no meta leader), then sets up R3 once they are back, warning meanwhile", async function () {
    await h?.close(); // a retried attempt starts afresh
    await cluster?.stop();
    cluster = await NatsCluster.start(3);
    await cluster.kill(1);
    await cluster.kill(2);
    h = await NatsHandle.connect({ servers: [cluster.nodes[0]?.url ?? ""] });
    const warnings: string[] = [];
    let done = false;
    const setup = ensureResources(h, { replicas: 3, log: { warn: (_obj, msg) => warnings.push(msg) } }).finally(() => (done = true));
    await sleep(4_000);
    assert.equal(done, false, "nothing can be set up without a meta leader");
    await Promise.all([cluster.restart(1), cluster.restart(2)]);
    const r = await setup;
    assert.ok(warnings.some((w) => /JetStream is not ready yet/.test(w)), warnings.join("\n"));
    assert.equal((await h.jsm.streams.info("KV_taskwire_runs")).config.num_replicas, 3);
    assert.ok(r.runs && r.results);
  });

  it("gives up after waitMs with JetStream's own error", async function () {
    cluster ??= await NatsCluster.start(3);
    await cluster.kill(1);
    await cluster.kill(2);
    h ??= await NatsHandle.connect({ servers: [cluster.nodes[0]?.url ?? ""] });
    const t0 = Date.now();
    await assert.rejects(ensureResources(h, { replicas: 3, waitMs: 3_000, log: { warn: () => undefined } }), (err: unknown) => jetStreamNotReady(err));
    assert.ok(Date.now() - t0 < 20_000, `gave up after ${Date.now() - t0} ms`);
  });
});
