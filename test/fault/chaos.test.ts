// The fault suite: thousands of runs while workers are killed with SIGKILL
// every few seconds and restarted, nats-server restarts once and the broker
// restarts once. Bounded in count and time. Prints the tally and asserts zero
// lost runs and zero runs recorded terminal twice.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeliverPolicy } from "@nats-io/jetstream";
import { Client, RunState, isTerminalState } from "@taskwire/client";
import { NatsHandle, RUNS_BUCKET_STREAM } from "@taskwire/core";
import { decodeRun } from "@taskwire/protocol";
import { freePort, type Proc, spawnCli, startNats, waitFor } from "../helpers/env.js";

const RUNS = Number(process.env.CHAOS_RUNS ?? 10_000);
const WORKERS = 3;
const KILL_EVERY_MS = 2_500;
const DEADLINE_MS = 240_000;

describe(`fault suite: ${RUNS} runs under kill -9, a NATS restart and a broker restart`, function () {
  this.timeout(DEADLINE_MS + 60_000);
  let nats: Awaited<ReturnType<typeof startNats>>;
  const dir = mkdtempSync(join(tmpdir(), "taskwire-chaos-"));
  const log = join(dir, "executions.log");
  let brokerPort = 0;
  let broker: Proc | undefined;
  const workers: Proc[] = [];

  const startBrokerProc = async (): Promise<Proc> => {
    const p = spawnCli(["broker", "--listen", `127.0.0.1:${brokerPort}`, "--nats", nats.url]);
    await waitFor(() => p.output().includes("taskwire broker listening"), "broker", 20_000);
    return p;
  };
  const startWorkerProc = (): Proc =>
    spawnCli(["worker", "test/fixtures/chaos-tasks.ts", "--nats", nats.url, "--concurrency", "32", "--heartbeat-ms", "500"], { CHAOS_LOG: log, TASKWIRE_LOG_LEVEL: "warn" });

  before(async function () {
    writeFileSync(log, "");
    nats = await startNats();
    brokerPort = await freePort();
    broker = await startBrokerProc();
    for (let i = 0; i < WORKERS; i++) workers.push(startWorkerProc());
  });
  after(async function () {
    await Promise.all(workers.map((w) => w.kill("SIGKILL")));
    await broker?.kill();
    await nats?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("loses nothing and records every outcome once", async function () {
    const started = Date.now();
    const client = new Client({ address: `127.0.0.1:${brokerPort}`, callTimeoutMs: 15_000 });
    const kinds = (i: number): string => (i % 10 === 0 ? "doomed" : i % 5 === 0 ? "flaky" : "ok");
    const expected = new Map<string, string>();

    // Chaos: kill a random worker every few seconds and start a new one.
    let chaosOn = true;
    let kills = 0;
    const chaosLoop = (async () => {
      while (chaosOn) {
        await new Promise((r) => setTimeout(r, KILL_EVERY_MS));
        if (!chaosOn) break;
        const i = Math.floor(Math.random() * workers.length);
        workers[i]?.child.kill("SIGKILL");
        await workers[i]?.exited;
        workers[i] = startWorkerProc();
        kills++;
      }
    })();

    // Submit in batches (with idempotency keys, so a batch retried after an
    // outage never duplicates); restart NATS and the broker midway.
    const batch = 250;
    for (let i = 0; i < RUNS; i += batch) {
      if (i === Math.floor(RUNS / 3 / batch) * batch) await nats.restart();
      if (i === Math.floor((2 * RUNS) / 3 / batch) * batch) {
        await broker?.kill("SIGTERM");
        broker = await startBrokerProc();
      }
      const items = Array.from({ length: Math.min(batch, RUNS - i) }, (_, k) => ({
        task: "chaos",
        args: [kinds(i + k), 2],
        options: { idempotencyKey: `chaos-${i + k}` },
      }));
      const handles = await waitFor(async () => client.submitBatch(items), `batch at ${i}`, 60_000, 200);
      handles.forEach((h, k) => expected.set(h.id, kinds(i + k)));
    }
    const submitted = expected.size;

    // Wait until every run is terminal (bounded).
    const pending = new Set(expected.keys());
    while (pending.size > 0 && Date.now() - started < DEADLINE_MS) {
      const ids = [...pending].slice(0, 200);
      const states = await Promise.all(ids.map((id) => client.getStatus(id).catch(() => undefined)));
      states.forEach((s, k) => s && isTerminalState(s.state) && pending.delete(ids[k] ?? ""));
      if (pending.size > 0 && ids.every((id) => pending.has(id))) await new Promise((r) => setTimeout(r, 200));
    }
    chaosOn = false;
    await chaosLoop;

    // Count terminal revisions per run over the whole KV history.
    const h = await NatsHandle.connect({ servers: nats.url });
    const terminalWrites = new Map<string, number>();
    const final = new Map<string, { state: RunState; finishedAt: number }>();
    const c = await h.js.consumers.get(RUNS_BUCKET_STREAM, { deliver_policy: DeliverPolicy.All });
    const info = await h.jsm.streams.info(RUNS_BUCKET_STREAM);
    const last = info.state.last_seq;
    const msgs = await c.consume();
    for await (const m of msgs) {
      if (m.data.length > 0) {
        const run = decodeRun(m.data);
        if (isTerminalState(run.state)) {
          terminalWrites.set(run.id, (terminalWrites.get(run.id) ?? 0) + 1);
          final.set(run.id, { state: run.state, finishedAt: run.finishedAt?.getTime() ?? 0 });
        }
      }
      if (m.seq >= last) break;
    }
    await msgs.close();
    await h.close();

    // Executions after the run was recorded terminal.
    const executions = readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => l.split(" "));
    let afterTerminal = 0;
    for (const [id, , at] of executions) {
      const f = final.get(id ?? "");
      if (f && Number(at) > f.finishedAt) afterTerminal++;
    }
    let completed = 0;
    let failedAsExpected = 0;
    let wrongOutcome = 0;
    for (const [id, kind] of expected) {
      const f = final.get(id);
      if (!f) continue;
      if (f.state === RunState.RUN_STATE_COMPLETED && kind !== "doomed") completed++;
      else if (f.state === RunState.RUN_STATE_FAILED && kind === "doomed") failedAsExpected++;
      else wrongOutcome++;
    }
    const lost = submitted - completed - failedAsExpected - wrongOutcome;
    const twice = [...terminalWrites.values()].filter((n) => n > 1).length;
    const tally = { submitted, completed, failedAsExpected, wrongOutcome, lost, terminalTwice: twice, executions: executions.length, executedAfterTerminal: afterTerminal, workerKills: kills, seconds: Math.round((Date.now() - started) / 1000) };
    console.log(`      chaos tally: ${JSON.stringify(tally)}`);
    client.close();
    assert.equal(submitted, RUNS);
    assert.equal(lost, 0, "no run lost");
    assert.equal(twice, 0, "no run recorded terminal twice");
    assert.equal(afterTerminal, 0, "no execution started after its run was terminal");
    assert.equal(wrongOutcome, 0);
    assert.ok(kills >= 2, "workers were killed during the run");
  });
});
