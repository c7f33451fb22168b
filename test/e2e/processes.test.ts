import assert from "node:assert/strict";
import { Client, RunState } from "@taskwire/client";
import { type Proc, startNats, waitFor } from "../helpers/env.js";
import { HealthClient } from "../helpers/health.js";
import { spawnBroker, spawnWorker } from "../helpers/procs.js";
import { call, json, rawClient } from "../helpers/raw-client.js";

describe("end to end: broker and two workers as separate processes", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: { proc: Proc; address: string };
  let w1: Proc;
  let w2: Proc;
  let client: Client;

  before(async function () {
    nats = await startNats();
    broker = await spawnBroker(nats.url);
    [w1, w2] = await Promise.all([spawnWorker(nats.url), spawnWorker(nats.url)]);
    client = new Client({ address: broker.address });
  });

  after(async function () {
    client?.close();
    await Promise.all([w1?.kill(), w2?.kill()]);
    await broker?.proc.kill();
    await nats?.cleanup();
  });

  it("spreads runs across both workers (TS SDK)", async function () {
    const handles = await Promise.all(Array.from({ length: 24 }, () => client.submit<number>("e2e-whoami", [50])));
    const pids = await Promise.all(handles.map((h) => h.result({ timeoutMs: 20_000 })));
    const distinct = new Set(pids);
    assert.equal(distinct.size, 2, `runs executed by ${[...distinct].join(", ")}`);
    assert.ok(distinct.has(w1.child.pid ?? -1) && distinct.has(w2.child.pid ?? -1));
  });

  it("serves a plain proto-loader client (as another language would)", async function () {
    const c = rawClient(broker.address);
    try {
      const sub = await call(c, "Submit", { task: "e2e-add", args: json([40, 2]) });
      const id = (sub.run as { id: string }).id;
      const st = await call(c, "GetStatus", { run_id: id, wait_timeout_ms: 10_000 });
      const run = st.run as { state: string; result: { data: Buffer } };
      assert.equal(run.state, "RUN_STATE_COMPLETED");
      assert.equal(JSON.parse(run.result.data.toString()), 42);
    } finally {
      c.close();
    }
  });

  it("answers gRPC health and lists services through reflection", async function () {
    assert.equal(await HealthClient.check(broker.address), "SERVING");
    // Server reflection (what grpcurl uses): list services.
    const services = await HealthClient.reflectedServices(broker.address);
    assert.ok(services.includes("taskwire.v1.TaskService"), JSON.stringify(services));
  });

  it("drains on SIGTERM: the broker exits 0 and a worker finishes its in-flight run first", async function () {
    const extraNats = nats.url;
    const w3 = await spawnWorker(extraNats);
    // Stop the two main workers so w3 takes the run.
    await Promise.all([w1.kill(), w2.kill()]);
    const run = await client.submit("e2e-slow", [1_500]);
    await waitFor(async () => (await run.status()).state === RunState.RUN_STATE_RUNNING, "run started on w3");
    const code = await w3.kill("SIGTERM");
    assert.equal(code, 0);
    const st = await run.status();
    assert.equal(st.state, RunState.RUN_STATE_COMPLETED, "finished before the worker exited");
    const b = await spawnBroker(nats.url);
    assert.equal(await b.proc.kill("SIGTERM"), 0);
    // Bring the workers back for any later test.
    [w1, w2] = await Promise.all([spawnWorker(nats.url), spawnWorker(nats.url)]);
  });
});
