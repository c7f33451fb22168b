import assert from "node:assert/strict";
import { Client, Status, TaskwireError, task } from "@taskwire/client";
import type { Broker } from "@taskwire/broker";
import type { Worker } from "@taskwire/worker";
import { startBroker, startNats, startWorker, uniq, waitFor } from "../helpers/env.js";

describe("cron schedules", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  const brokers: Broker[] = [];
  let worker: Worker;
  let client: Client;
  const fired = task(uniq("cron"), async (tag: string) => tag);

  before(async function () {
    nats = await startNats();
    brokers.push(await startBroker(nats.url), await startBroker(nats.url));
    worker = await startWorker(nats.url, [fired]);
    client = new Client({ address: brokers[0]?.address });
  });
  after(async function () {
    client?.close();
    await worker?.stop();
    await Promise.all(brokers.map((b) => b.stop()));
    await nats?.cleanup();
  });

  const runsOf = async (name: string) => (await client.listRuns({ task: fired.taskName, pageSize: 1000 })).runs.filter((r) => r.options?.labels["taskwire.schedule"] === name);

  it("fires once per tick with two brokers, pauses, resumes, survives broker restarts, and deletes", async function () {
    this.timeout(60_000);
    const name = uniq("every-second");
    const created = await client.createSchedule({ name, cron: "* * * * * *", task: fired.taskName, args: ["tick"] });
    assert.ok(created.nextFireAt);
    await waitFor(async () => (await runsOf(name)).length >= 3, "three fires", 10_000);
    const runs = await runsOf(name);
    const fireTimes = runs.map((r) => r.options?.idempotencyKey);
    assert.equal(new Set(fireTimes).size, runs.length, `each fire submitted exactly one run (${fireTimes.join(", ")})`);
    const listed = (await client.listSchedules()).find((s) => s.name === name);
    assert.ok(listed?.lastRunId && listed.lastFiredAt);

    await client.pauseSchedule(name);
    await new Promise((r) => setTimeout(r, 300)); // let a fire already in flight land
    const atPause = (await runsOf(name)).length;
    await new Promise((r) => setTimeout(r, 1_600));
    assert.equal((await runsOf(name)).length, atPause, "no fires while paused");

    // Restart both brokers: the schedule lives in NATS.
    await Promise.all(brokers.map((b) => b.stop()));
    brokers.length = 0;
    brokers.push(await startBroker(nats.url), await startBroker(nats.url));
    client.close();
    client = new Client({ address: brokers[1]?.address });
    await client.pauseSchedule(name, false);
    await waitFor(async () => (await runsOf(name)).length >= atPause + 2, "fires after resume and restart", 10_000);

    await client.deleteSchedule(name);
    assert.ok(!(await client.listSchedules()).some((s) => s.name === name));
    await assert.rejects(client.deleteSchedule(name), (e: unknown) => e instanceof TaskwireError && e.code === Status.NOT_FOUND);
  });

  it("rejects a bad cron expression or time zone, saying what is allowed", async function () {
    await assert.rejects(client.createSchedule({ name: "bad", cron: "61 * * * *", task: fired.taskName }), (e: unknown) => e instanceof TaskwireError && e.code === Status.INVALID_ARGUMENT && /schedule\.cron/.test(e.message));
    await assert.rejects(client.createSchedule({ name: "bad", cron: "* * * * *", timezone: "Mars/Olympus", task: fired.taskName }), (e: unknown) => e instanceof TaskwireError && e.code === Status.INVALID_ARGUMENT);
  });
});
