import assert from "node:assert/strict";
import type { Broker } from "@taskwire/broker";
import { Client } from "@taskwire/client";
import { startBroker, startNats, uniq, waitFor } from "../helpers/env.js";
import { sample, scrape } from "../helpers/http.js";

/**
 * Queue gauges come from one broker: every broker reads the same JetStream
 * numbers, so with several only the holder of the queue-metrics lease
 * exports them, and another takes over when it stops.
 */
describe("metrics: the queue gauges are exported by one broker of several", function () {
  this.timeout(60_000);
  let nats: Awaited<ReturnType<typeof startNats>>;
  const brokers: Broker[] = [];

  before(async function () {
    nats = await startNats();
    for (let i = 0; i < 3; i++) brokers.push(await startBroker(nats.url));
  });
  after(async function () {
    await Promise.all(brokers.map((b) => b.stop()));
    await nats?.cleanup();
  });

  it("one exporter at a time; a stopping exporter hands over at once", async function () {
    const task = uniq("lease-nobody");
    const client = new Client({ address: brokers[0]?.address });
    try {
      await client.submit(task, [1]);
    } finally {
      client.close();
    }
    const exporters = async (): Promise<Broker[]> => {
      const out: Broker[] = [];
      for (const b of brokers) {
        const s = await scrape(`http://${b.httpAddress}`);
        const depth = sample(s, "taskwire_queue_depth", { task });
        if (sample(s, "taskwire_queue_metrics_exporter") === 1) {
          assert.equal(depth, 1, "the exporter exports the depth");
          out.push(b);
        } else assert.equal(depth, undefined, "the others export no queue gauges");
      }
      return out;
    };
    const [first] = await waitFor(async () => {
      const e = await exporters();
      return e.length === 1 ? e : undefined;
    }, "exactly one exporter");
    assert.ok(first);
    brokers.splice(brokers.indexOf(first), 1);
    const t0 = Date.now();
    await first.stop();
    const [next] = await waitFor(async () => {
      const e = await exporters();
      return e.length === 1 ? e : undefined;
    }, "another broker takes the lease over", 20_000, 100);
    assert.ok(next && next !== first);
    // The lease is handed back on stop; the others try every 5 s.
    assert.ok(Date.now() - t0 < 8_000, `taken over in ${Date.now() - t0} ms`);
  });
});

describe("health: /readyz follows the NATS connection, /healthz does not", function () {
  this.timeout(60_000);
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: Broker;

  before(async function () {
    nats = await startNats();
    broker = await startBroker(nats.url);
  });
  after(async function () {
    await broker?.stop();
    await nats?.cleanup();
  });

  it("answers 503 naming the failing check while NATS is down, 200 again once it is back", async function () {
    const base = `http://${broker.httpAddress}`;
    const ready = async (): Promise<{ status: number; body: { failing?: string[] } }> => {
      const res = await fetch(`${base}/readyz`);
      return { status: res.status, body: (await res.json()) as { failing?: string[] } };
    };
    assert.equal((await ready()).status, 200);
    await nats.stop();
    const down = await waitFor(async () => {
      const r = await ready();
      return r.status === 503 ? r : undefined;
    }, "/readyz 503");
    assert.deepEqual(down.body.failing, ["nats"]);
    assert.equal((await fetch(`${base}/healthz`)).status, 200, "the process is alive: no restart wanted");
    const metrics = await scrape(base);
    assert.equal(sample(metrics, "taskwire_nats_connected"), 0);
    await nats.restart();
    await waitFor(async () => (await ready()).status === 200, "/readyz 200 again", 30_000);
  });
});
