import assert from "node:assert/strict";
import { AttemptOutcome, Client, EventType, RunState } from "@taskwire/client";
import { spawnBroker, spawnWorker } from "../helpers/procs.js";
import { type Proc, startNats, waitFor } from "../helpers/env.js";

describe("fault: a worker killed with SIGKILL mid-run", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: { proc: Proc; address: string };
  const procs: Proc[] = [];
  let client: Client;

  before(async function () {
    nats = await startNats();
    broker = await spawnBroker(nats.url);
    client = new Client({ address: broker.address });
  });
  after(async function () {
    client?.close();
    await Promise.all(procs.map((p) => p.kill("SIGKILL")));
    await broker?.proc.kill();
    await nats?.cleanup();
  });

  it("completes the run on the other worker, records the lost attempt, and records completion once", async function () {
    const a = await spawnWorker(nats.url);
    procs.push(a);
    // Long enough that worker A is still running it once worker B has started
    // (starting a worker takes seconds on a loaded machine).
    const run = await client.submit<{ pid: number }>("e2e-slow", [6_000]);
    await waitFor(async () => (await run.status()).state === RunState.RUN_STATE_RUNNING, "run started on worker A");
    const b = await spawnWorker(nats.url);
    procs.push(b);
    const killedAt = Date.now();
    a.child.kill("SIGKILL");
    await a.exited;
    const result = await run.result({ timeoutMs: 30_000 });
    assert.equal(result.pid, b.child.pid, "the surviving worker finished it");
    const st = await run.status();
    assert.equal(st.state, RunState.RUN_STATE_COMPLETED);
    assert.equal(st.attempts.length, 2);
    assert.equal(st.attempts[0]?.outcome, AttemptOutcome.ATTEMPT_OUTCOME_CRASHED);
    assert.equal(st.attempts[0]?.error?.type, "WorkerCrashed");
    assert.equal(st.attempts[1]?.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
    // Picked up again within 2 × heartbeat (500 ms) plus start-up slack.
    const restartedAt = st.attempts[1]?.startedAt?.getTime() ?? 0;
    assert.ok(restartedAt - killedAt < 2 * 500 + 1_000, `picked up ${restartedAt - killedAt} ms after the kill`);
    const types: EventType[] = [];
    for await (const e of run.events()) types.push(e.type);
    assert.equal(types.filter((t) => t === EventType.EVENT_TYPE_COMPLETED).length, 1, "completion recorded once");
    assert.ok(types.includes(EventType.EVENT_TYPE_CRASHED), "the crash is an event");
  });
});
