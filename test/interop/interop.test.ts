// Cross-language interop: Python submits, the TS worker executes, Go reads
// the result; TS submits and Go streams the events. Uses TASKWIRE_ADDRESS
// (a live broker with the conformance worker) or starts its own.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "@taskwire/client";
import type { Broker } from "@taskwire/broker";
import type { Worker } from "@taskwire/worker";
import * as cfTasks from "@taskwire/examples/conformance/tasks.js";
import { REPO, startBroker, startNats, startWorker } from "../helpers/env.js";

const run = promisify(execFile);
const PYTHON = process.env.TASKWIRE_PYTHON ?? join(REPO, "clients/python/.venv/bin/python");
const GO_BIN = join(REPO, ".taskwire/bin/interop-go");

describe("interop across TypeScript, Python and Go", function () {
  let address: string;
  let local: { nats: Awaited<ReturnType<typeof startNats>>; broker: Broker; worker: Worker } | undefined;

  before(async function () {
    this.timeout(180_000);
    assert.ok(existsSync(PYTHON), `Python venv missing at ${PYTHON}: run clients/python/scripts/test.sh (make test does)`);
    mkdirSync(join(REPO, ".taskwire/bin"), { recursive: true });
    await run("go", ["build", "-o", GO_BIN, "./examples/interop"], { cwd: join(REPO, "clients/go") });
    address = process.env.TASKWIRE_ADDRESS ?? "";
    if (!address) {
      const nats = await startNats();
      const broker = await startBroker(nats.url);
      const worker = await startWorker(nats.url, Object.values(cfTasks));
      local = { nats, broker, worker };
      address = broker.address;
    }
  });
  after(async function () {
    if (local) {
      await local.worker.stop();
      await local.broker.stop();
      await local.nats.cleanup();
    }
  });

  const env = (): NodeJS.ProcessEnv => ({ ...process.env, TASKWIRE_ADDRESS: address });

  it("a run submitted from Python is executed by the TS worker and its result read from Go", async function () {
    const sub = await run(PYTHON, [join(REPO, "clients/python/examples/interop.py"), "submit", "cf-unicode", JSON.stringify(["naïve café"])], { env: env() });
    const id = sub.stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    const res = await run(GO_BIN, ["result", id], { env: env() });
    assert.equal(JSON.parse(res.stdout), "naïve café ✓");
  });

  it("Go streams the events of a run submitted from TS", async function () {
    const client = new Client({ address });
    try {
      const h = await client.submit("cf-add", [20, 22]);
      const ev = await run(GO_BIN, ["events", h.id], { env: env() });
      const types = ev.stdout.trim().split("\n");
      assert.deepEqual(types, ["EVENT_TYPE_SUBMITTED", "EVENT_TYPE_STARTED", "EVENT_TYPE_COMPLETED"]);
      assert.equal(await h.result(), 42);
    } finally {
      client.close();
    }
  });

  it("Go submits and Python reads the result", async function () {
    const sub = await run(GO_BIN, ["submit", "cf-add", "[1, 2]"], { env: env() });
    const id = sub.stdout.trim();
    const res = await run(PYTHON, [join(REPO, "clients/python/examples/interop.py"), "result", id, "--timeout", "20"], { env: env() });
    assert.equal(JSON.parse(res.stdout), 3);
  });
});
