import assert from "node:assert/strict";
import { Client, waitAll, type TaskRun } from "@taskwire/client";
import { type Proc, startNats } from "../helpers/env.js";
import { spawnBroker, spawnWorker } from "../helpers/procs.js";

/** Highest number of attempts running at the same instant. */
function maxOverlap(runs: TaskRun[]): number {
  const edges: Array<[number, number]> = [];
  for (const r of runs) for (const a of r.attempts) edges.push([a.startedAt?.getTime() ?? 0, 1], [a.finishedAt?.getTime() ?? 0, -1]);
  edges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (cur += d));
  return max;
}

describe("concurrency limit per task across three worker processes", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: { proc: Proc; address: string };
  let workers: Proc[] = [];
  let client: Client;

  before(async function () {
    nats = await startNats();
    broker = await spawnBroker(nats.url);
    workers = await Promise.all([spawnWorker(nats.url), spawnWorker(nats.url), spawnWorker(nats.url)]);
    client = new Client({ address: broker.address });
  });
  after(async function () {
    client?.close();
    await Promise.all(workers.map((w) => w.kill()));
    await broker?.proc.kill();
    await nats?.cleanup();
  });

  it("never runs more than the limit at once, and does reach it", async function () {
    const handles = await client.submitBatch(Array.from({ length: 16 }, () => ({ task: "e2e-limited", args: [150] })));
    const pids = await waitAll(handles, { timeoutMs: 30_000 });
    const runs = await Promise.all(handles.map((h) => h.status()));
    const peak = maxOverlap(runs);
    assert.ok(peak <= 2, `observed ${peak} at once with a limit of 2`);
    assert.equal(peak, 2, "the limit is used, not undershot");
    assert.ok(new Set(pids).size >= 2, "more than one worker took part");
  });

  it("runs at most 2 at once per concurrency key, keys independent of each other", async function () {
    const items = ["acme", "globex", "acme", "globex"].flatMap((key) => Array.from({ length: 4 }, () => ({ task: "e2e-per-customer", args: [150], options: { concurrencyKey: key } })));
    const handles = await client.submitBatch(items);
    await waitAll(handles, { timeoutMs: 30_000 });
    const runs = await Promise.all(handles.map((h) => h.status()));
    for (const key of ["acme", "globex"]) {
      const mine = runs.filter((r) => r.options?.concurrencyKey === key);
      const peak = maxOverlap(mine);
      assert.ok(peak <= 2, `${key}: ${peak} at once with a per-key limit of 2`);
      assert.equal(peak, 2, `${key}: the limit is used`);
    }
    assert.ok(maxOverlap(runs) >= 3, "two keys run side by side");
  });
});
