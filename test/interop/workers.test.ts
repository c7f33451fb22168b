// Worker conformance: the scenarios of proto/conformance/scenarios.json
// that execute runs, played against a TS, a Python and a Go worker serving
// the same task names (examples/conformance/tasks.ts, tasks.py,
// clients/go/examples/conformance-worker), each alone on a broker; a worker
// process of each language killed with SIGKILL mid-run while another one of
// its language completes the run; a broker restarted under a Python and a
// Go worker mid-run (they reconnect and keep their runs); and runs that cross languages (TS
// submits and Python executes, Python submits and Go executes, Go submits
// and TS executes). Prints the scenario × worker table (docs/workers.md
// keeps the latest). Starts its own nats-server and broker; needs the
// Python venv (clients/python/scripts/test.sh, which make test runs first)
// and Go.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { AttemptOutcome, Client, RunState } from "@taskwire/client";
import type { Broker } from "@taskwire/broker";
import { freePort, REPO, startBroker, startNats, waitFor } from "../helpers/env.js";
import { executesRuns, loadScenarios, play } from "../helpers/scenarios.js";

const run = promisify(execFile);
const PYTHON = process.env.TASKWIRE_PYTHON ?? join(REPO, "clients/python/.venv/bin/python");
const BIN = join(REPO, ".taskwire/bin");
const GO_WORKER = join(BIN, "conformance-worker-go");
const GO_INTEROP = join(BIN, "interop-go");
/** The heartbeat of this suite's broker and TS workers: a lost worker's runs move on within 2 × this. */
const HB = 500;

type Lang = "TS" | "Python" | "Go";
const LANGS: Lang[] = ["TS", "Python", "Go"];

/** A worker process of one language. */
class WorkerProc {
  readonly child: ChildProcess;
  #out = "";
  readonly exited: Promise<number | null>;

  constructor(
    readonly lang: Lang,
    natsUrl: string,
    address: string,
  ) {
    const env = { ...process.env, TASKWIRE_ADDRESS: address, TASKWIRE_NATS_URL: natsUrl, TASKWIRE_HEARTBEAT_MS: String(HB), TASKWIRE_LOG_LEVEL: "warn", TASKWIRE_SHUTDOWN_GRACE_MS: "2000" };
    const [cmd, args] =
      lang === "TS"
        ? [process.execPath, ["--conditions=taskwire-source", "--import", "tsx", join(REPO, "cli/src/main.ts"), "worker", "examples/conformance/tasks.ts", "--concurrency", "8"]]
        : lang === "Python"
          ? [PYTHON, ["-m", "taskwire", "worker", "examples/conformance/tasks.py", "--concurrency", "8", "--log-level", "warning"]]
          : [GO_WORKER, ["-concurrency", "8"]];
    this.child = spawn(cmd, args, { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.on("data", (d: Buffer) => (this.#out += d.toString()));
    this.child.stderr?.on("data", (d: Buffer) => (this.#out += d.toString()));
    this.exited = new Promise((r) => this.child.once("exit", (code) => r(code)));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  output(): string {
    return this.#out;
  }

  /** Whether run records name this process as their worker (every SDK's default id is <host>-<pid>-<random>). */
  holds(workerId: string): boolean {
    return workerId.includes(`-${this.pid}-`);
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

/** Waits until a worker of `lang` serves: a cf-add run completes on it. */
async function ready(client: Client, w: WorkerProc): Promise<void> {
  const h = await client.submit<number>("cf-add", [1, 1]);
  try {
    assert.equal(await h.result({ timeoutMs: 60_000 }), 2);
  } catch (err) {
    throw new Error(`the ${w.lang} worker did not serve (exit ${String(w.child.exitCode)}): ${w.output().slice(-2000)}`, { cause: err });
  }
}

describe("worker conformance: TS, Python and Go workers", function () {
  this.timeout(120_000);
  const scenarios = loadScenarios().filter(executesRuns);
  /** scenario (or check) → language → passed. */
  const table = new Map<string, Map<Lang, boolean>>();
  const mark = (row: string, lang: Lang, ok: boolean): void => {
    if (!table.has(row)) table.set(row, new Map());
    table.get(row)?.set(lang, ok);
  };
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: Broker;
  let client: Client;

  before(async function () {
    this.timeout(600_000);
    assert.ok(existsSync(PYTHON), `Python venv missing at ${PYTHON}: run clients/python/scripts/test.sh (make test does)`);
    mkdirSync(BIN, { recursive: true });
    const goDir = join(REPO, "clients/go");
    await run("go", ["build", "-o", GO_WORKER, "./examples/conformance-worker"], { cwd: goDir });
    await run("go", ["build", "-o", GO_INTEROP, "./examples/interop"], { cwd: goDir });
    nats = await startNats();
    broker = await startBroker(nats.url, { workerHeartbeatMs: HB });
    client = new Client({ address: broker.address });
  });

  after(async function () {
    client?.close();
    await broker?.stop();
    await nats?.cleanup();
    const cols = LANGS.join(" | ");
    const lines = [`| scenario | ${cols} |`, `| --- | ${LANGS.map(() => "---").join(" | ")} |`];
    for (const [row, byLang] of table) lines.push(`| ${row} | ${LANGS.map((l) => (byLang.get(l) === undefined ? "—" : byLang.get(l) ? "✔" : "✘")).join(" | ")} |`);
    const md = lines.join("\n");
    console.log(`\nworker conformance (scenario × worker)\n${md}\n`);
    mkdirSync(join(REPO, ".taskwire"), { recursive: true });
    writeFileSync(join(REPO, ".taskwire/worker-conformance.md"), `${md}\n`);
  });

  for (const lang of LANGS) {
    describe(`${lang} worker`, function () {
      let w: WorkerProc;
      before(async function () {
        this.timeout(120_000);
        w = new WorkerProc(lang, nats.url, broker.address);
        await ready(client, w);
      });
      after(async function () {
        await w?.stop();
      });

      for (const s of scenarios) {
        it(s.name, async function () {
          let ok = false;
          try {
            await play(() => client, s);
            ok = true;
          } finally {
            mark(s.name, lang, ok);
          }
        });
      }

      it("a worker killed with SIGKILL mid-run: another worker completes the run", async function () {
        let ok = false;
        const other = new WorkerProc(lang, nats.url, broker.address);
        try {
          await ready(client, other);
          const h = await client.submit<number>("cf-sleep", [1_500]);
          const running = await waitFor(async () => {
            const r = await client.getStatus(h.id);
            return r.state === RunState.RUN_STATE_RUNNING ? r : undefined;
          }, "the run to start", 20_000, 10);
          const victim = [w, other].find((p) => p.holds(running.workerId));
          assert.ok(victim, `no process of ours holds ${running.workerId}`);
          const survivor = victim === w ? other : w;
          const killedAt = Date.now();
          await victim.stop("SIGKILL");
          assert.equal(await h.result({ timeoutMs: 30_000 }), 1_500);
          const took = Date.now() - killedAt;
          const done = await client.getStatus(h.id);
          assert.deepEqual(
            done.attempts.map((a) => a.outcome),
            [AttemptOutcome.ATTEMPT_OUTCOME_CRASHED, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED],
          );
          assert.ok(survivor.holds(done.workerId), `completed by ${done.workerId}`);
          // Back in play within 2 × the heartbeat (+ the holder probe and the 1.5 s the task takes).
          assert.ok(took < 2 * HB + 1_500 + 2_000, `completed ${took} ms after the kill`);
          console.log(`      ${lang}: run completed elsewhere ${took} ms after SIGKILL (its attempt took 1,500 ms; heartbeat ${HB} ms)`);
          if (victim === w) w = survivor; // keep a live worker for the rest of this language's tests
          else await other.stop();
          ok = true;
        } finally {
          mark("kill -9 mid-run, completed by another worker", lang, ok);
          if (!ok) await other.stop("SIGKILL");
        }
      });

      if (lang !== "TS") {
        it("the broker restarts mid-run: the worker reconnects and keeps its run (no crash)", async function () {
          let ok = false;
          // A broker of its own on a fixed port, so the worker finds the next one there.
          const port = await freePort();
          let b = await startBroker(nats.url, { workerHeartbeatMs: HB, listen: `127.0.0.1:${port}` });
          const other = new WorkerProc(lang, nats.url, `127.0.0.1:${port}`);
          try {
            await w.stop(); // only the worker under test serves cf-*
            await ready(client, other);
            const h = await client.submit<number>("cf-sleep", [3_000]);
            await waitFor(async () => (await client.getStatus(h.id)).state === RunState.RUN_STATE_RUNNING, "the run to start", 20_000, 10);
            await b.stop();
            b = await startBroker(nats.url, { workerHeartbeatMs: HB, listen: `127.0.0.1:${port}` });
            assert.equal(await h.result({ timeoutMs: 30_000 }), 3_000);
            const done = await client.getStatus(h.id);
            assert.deepEqual(done.attempts.map((a) => a.outcome), [AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED]);
            assert.ok(other.holds(done.workerId));
            ok = true;
          } finally {
            mark("the broker restarts mid-run: the worker keeps its run", lang, ok);
            await other.stop();
            await b.stop();
            w = new WorkerProc(lang, nats.url, broker.address);
            await ready(client, w);
          }
        });
      }

      const env = (): NodeJS.ProcessEnv => ({ ...process.env, TASKWIRE_ADDRESS: broker.address });
      const python = (...args: string[]) => run(PYTHON, [join(REPO, "clients/python/examples/interop.py"), ...args], { env: env() });
      const go = (...args: string[]) => run(GO_INTEROP, args, { env: env() });

      if (lang === "Python") {
        it("interop: TS submits, Python executes", async function () {
          const h = await client.submit<string>("cf-unicode", ["naïve café"]);
          assert.equal(await h.result({ timeoutMs: 20_000 }), "naïve café ✓");
          assert.ok(w.holds((await client.getStatus(h.id)).workerId));
          mark("interop: TS submits, Python executes", lang, true);
        });
      }
      if (lang === "Go") {
        it("interop: Python submits, Go executes", async function () {
          const id = (await python("submit", "cf-add", "[1, 2]")).stdout.trim();
          assert.equal(await client.handle<number>(id).result({ timeoutMs: 20_000 }), 3);
          assert.ok(w.holds((await client.getStatus(id)).workerId));
          mark("interop: Python submits, Go executes", lang, true);
        });
      }
      if (lang === "TS") {
        it("interop: Go submits, TS executes", async function () {
          const id = (await go("submit", "cf-add", "[20, 22]")).stdout.trim();
          assert.equal(JSON.parse((await python("result", id, "--timeout", "20")).stdout), 42);
          assert.ok(w.holds((await client.getStatus(id)).workerId));
          mark("interop: Go submits, TS executes", lang, true);
        });
      }
    });
  }
});
