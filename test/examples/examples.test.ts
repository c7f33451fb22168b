import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { AttemptOutcome, Client, RunState, waitAll } from "@taskwire/client";
import type { Broker } from "@taskwire/broker";
import type { Worker } from "@taskwire/worker";
import { startBroker, startNats, startWorker, waitFor, type Proc } from "../helpers/env.js";
import { spawnCliWorker } from "../helpers/procs.js";
import * as direct from "@taskwire/examples/01-direct-call/main.js";
import * as submitter from "@taskwire/examples/02-workers/submit.js";
import * as http from "@taskwire/examples/03-http-app/app.js";
import * as reportTasks from "@taskwire/examples/03-http-app/tasks.js";
import * as signup from "@taskwire/examples/04-signup-fanout/app.js";
import * as signupTasks from "@taskwire/examples/04-signup-fanout/tasks.js";
import * as quickstart from "@taskwire/examples/quickstart/submit.js";
import * as demoTasks from "@taskwire/examples/quickstart/tasks.js";

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("examples (each runs as a user would run it)", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: Broker;
  let client: Client;
  const workers: Worker[] = [];

  before(async function () {
    nats = await startNats();
    broker = await startBroker(nats.url);
    client = new Client({ address: broker.address });
    workers.push(await startWorker(nats.url, [reportTasks.buildReport, signupTasks.sendWelcomeEmail, signupTasks.provisionAccount, signupTasks.syncToCrm, demoTasks.add, demoTasks.slowGreeting]));
  });
  after(async function () {
    client?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await broker?.stop();
    await nats?.cleanup();
  });

  it("quickstart: submit by name, result, events", async function () {
    assert.equal(await quickstart.main(client), 5);
  });

  it("01: a task called directly runs in-process", async function () {
    const out = await direct.main();
    assert.equal(out.words, 4);
  });

  it("02: two worker processes share the runs", async function () {
    const procs: Proc[] = await Promise.all([spawnCliWorker(nats.url, "examples/02-workers/tasks.ts"), spawnCliWorker(nats.url, "examples/02-workers/tasks.ts")]);
    try {
      const perWorker = await submitter.main(client);
      assert.equal(perWorker.size, 2, `runs by ${[...perWorker.keys()].join(", ")}`);
      assert.equal([...perWorker.values()].reduce((a, b) => a + b, 0), 20);
    } finally {
      await Promise.all(procs.map((p) => p.kill()));
    }
  });

  it("03: HTTP app answers 202 + Location, then 202 while pending, 200 with the result, 500 on failure", async function () {
    const app = http.createApp(client);
    const base = await listen(app);
    try {
      const post = await fetch(`${base}/reports`, { method: "POST", body: JSON.stringify({ year: 2024 }) });
      assert.equal(post.status, 202);
      const location = post.headers.get("location");
      assert.match(location ?? "", /^\/reports\/[0-9a-f-]{36}$/);
      const first = await fetch(`${base}${location}`);
      assert.equal(first.status, 202, "pending right after submit (the task takes 200 ms)");
      assert.match(((await first.json()) as { state: string }).state, /PENDING|RUNNING/);
      const done = await waitFor(async () => {
        const r = await fetch(`${base}${location}`);
        return r.status === 200 ? r : undefined;
      }, "report done");
      assert.deepEqual(await done.json(), { result: { year: 2024, total: 24288 } });
      const bad = await fetch(`${base}/reports`, { method: "POST", body: JSON.stringify({ year: -1 }) });
      const badLoc = bad.headers.get("location");
      const failed = await waitFor(async () => {
        const r = await fetch(`${base}${badLoc}`);
        return r.status === 500 ? r : undefined;
      }, "report failed");
      const body = (await failed.json()) as { error: { type: string } };
      assert.equal(body.error.type, "NoData");
    } finally {
      app.close();
    }
  });

  it("04: sign-up fans out three tasks; the flaky one is retried; a repeated sign-up reuses the runs", async function () {
    const app = signup.createApp(client);
    const base = await listen(app);
    try {
      const post = async () => (await (await fetch(`${base}/signup`, { method: "POST", body: JSON.stringify({ userId: "u42", email: "ada@example.com" }) })).json()) as { runs: Record<string, string> };
      const { runs } = await post();
      const handles = Object.values(runs).map((id) => client.handle(id));
      await waitAll(handles, { timeoutMs: 15_000 });
      const crm = await client.getStatus(runs.crm ?? "");
      assert.equal(crm.state, RunState.RUN_STATE_COMPLETED);
      assert.deepEqual(crm.attempts.map((a) => a.outcome), [AttemptOutcome.ATTEMPT_OUTCOME_FAILED, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED]);
      const again = await post();
      assert.deepEqual(again.runs, runs, "idempotent: same runs for the same user");
    } finally {
      app.close();
    }
  });
});
