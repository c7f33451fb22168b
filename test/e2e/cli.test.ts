// The taskwire command as a user runs it, against a live broker and worker.
import assert from "node:assert/strict";
import { Client } from "@taskwire/client";
import type { Broker } from "@taskwire/broker";
import type { Worker } from "@taskwire/worker";
import * as cf from "@taskwire/examples/conformance/tasks.js";
import * as demo from "@taskwire/examples/quickstart/tasks.js";
import { spawnCli, startBroker, startNats, startWorker, waitFor } from "../helpers/env.js";

describe("the taskwire CLI", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: Broker;
  let worker: Worker;

  const run = async (...args: string[]): Promise<{ code: number | null; out: string }> => {
    const p = spawnCli(["--address", broker.address, ...args], { TASKWIRE_LOG_LEVEL: "warn" });
    const code = await p.exited;
    return { code, out: p.output() };
  };

  before(async function () {
    nats = await startNats();
    broker = await startBroker(nats.url);
    worker = await startWorker(nats.url, [...Object.values(cf), demo.add, demo.slowGreeting]);
  });
  after(async function () {
    await worker?.stop();
    await broker?.stop();
    await nats?.cleanup();
  });

  it("submits and waits, shows status and lists runs", async function () {
    const sub = await run("submit", "add", "--args", "[2, 3]", "--wait");
    assert.equal(sub.code, 0, sub.out);
    assert.match(sub.out, /state\s+COMPLETED/);
    assert.match(sub.out, /result\s+5/);
    const id = /run\s+([0-9a-f-]{36})/.exec(sub.out)?.[1] ?? "";
    const st = await run("status", id, "--json");
    assert.equal(JSON.parse(st.out).result, 5);
    const runs = await run("runs", "--task", "add");
    assert.match(runs.out, new RegExp(`${id}\\s+add\\s+COMPLETED`));
  });

  it("watches a run with its retries, progress and logs as they happen", async function () {
    const flaky = await run("submit", "cf-flaky", "--args", "[1]", "--retries", "2", "--retry-delay-ms", "100", "--json");
    const id = JSON.parse(flaky.out).id as string;
    const w = await run("watch", id);
    assert.match(w.out, /RETRY_SCHEDULED\s+AWAITING_RETRY\s+attempt 1 FlakyError/);
    assert.match(w.out, /COMPLETED\s+COMPLETED\s+attempt 2/);
    const greet = await run("submit", "slow-greeting", "--args", '["ada"]', "--json");
    const w2 = await run("watch", JSON.parse(greet.out).id as string);
    assert.match(w2.out, /PROGRESS .*\d+% step \d of 4/);
    assert.match(w2.out, /LOG .*info: greeted ada/);
  });

  it("cancels, retries dead letters and manages schedules; errors name the code and what to fix", async function () {
    const later = await run("submit", "cf-add", "--args", "[1, 1]", "--delay-ms", "60000", "--json");
    const id = JSON.parse(later.out).id as string;
    assert.match((await run("cancel", id)).out, /CANCELLED/);
    const again = await run("retry", id);
    assert.match(again.out, /PENDING \(attempt 1 queued\)/);
    const created = await run("schedule", "create", "cli-every-second", "--cron", "* * * * * *", "--task", "cf-add", "--args", "[3, 4]");
    assert.equal(created.code, 0, created.out);
    assert.match((await run("schedule", "list")).out, /cli-every-second\s+cf-add\s+\* \* \* \* \* \* \(UTC\)\s+active/);
    const c = new Client({ address: broker.address });
    try {
      await waitFor(async () => (await c.listRuns({ task: "cf-add", pageSize: 200 })).runs.some((r) => r.options?.labels["taskwire.schedule"] === "cli-every-second"), "a fire");
    } finally {
      c.close();
    }
    assert.match((await run("schedule", "pause", "cli-every-second")).out, /paused/);
    assert.match((await run("schedule", "delete", "cli-every-second")).out, /deleted/);
    const bad = await run("submit", "add", "--args", "{nope");
    assert.equal(bad.code, 1);
    assert.match(bad.out, /INVALID_ARGUMENT: args: .*not valid JSON/);
    const missing = await run("status", "01890000-0000-7000-8000-000000000000");
    assert.match(missing.out, /NOT_FOUND: run .* not found/);
  });
});
