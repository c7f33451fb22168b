// NATS credentials and TLS for every connection of brokers and workers,
// against real nats-servers that require them, and the account layout of
// docs/security.md in which a worker can touch only its own subjects.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { Client, RunState, task } from "@taskwire/client";
import { type NatsAuth, NatsHandle } from "@taskwire/core";
import { type CertFiles, makeCerts } from "../helpers/certs.js";
import { startBroker, startNats, startWorker, uniq } from "../helpers/env.js";

const REPO = join(import.meta.dirname, "../..");

/** Runs `fn` with TASKWIRE_NATS_* set as given (brokers and workers read them when they connect). */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const echo = task(uniq("nats-auth-echo"), async (x: string) => x);

/** A broker and a worker connected with `env`, one run through them. */
async function roundTrip(natsUrl: string, env: Record<string, string>, workerEnv: Record<string, string> = env): Promise<void> {
  const broker = await withEnv(env, () => startBroker(natsUrl));
  const worker = await withEnv(workerEnv, () => startWorker(natsUrl, [echo]));
  const client = new Client({ address: broker.address });
  try {
    const run = await client.submit(echo.taskName, ["hello"]);
    const done = await run.wait({ timeoutMs: 15_000 });
    assert.equal(done.state, RunState.RUN_STATE_COMPLETED, JSON.stringify(done.error));
  } finally {
    client.close();
    await worker.stop();
    await broker.stop();
  }
}

describe("NATS credentials and TLS", function () {
  this.timeout(60_000);
  let dir: string;
  let certs: CertFiles;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "taskwire-nats-auth-"));
    certs = await makeCerts(join(dir, "certs"), "nats");
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it("user and password: brokers and workers connect; a wrong password is refused at once with what to check", async function () {
    const nats = await startNats(`authorization { users = [ { user: "taskwire", password: "pw-0123456789" } ] }`);
    try {
      await roundTrip(nats.url, { TASKWIRE_NATS_USER: "taskwire", TASKWIRE_NATS_PASSWORD: "pw-0123456789" });
      await assert.rejects(NatsHandle.connect({ servers: nats.url, auth: { user: "taskwire", password: "wrong" } }), /NATS refused the credentials .*TASKWIRE_NATS_USER/);
      await assert.rejects(NatsHandle.connect({ servers: nats.url, auth: {} }), /NATS refused the credentials/);
    } finally {
      await nats.cleanup();
    }
  });

  it("token", async function () {
    const nats = await startNats(`authorization { token: "tok-0123456789abcdef" }`);
    try {
      await roundTrip(nats.url, { TASKWIRE_NATS_TOKEN: "tok-0123456789abcdef" });
    } finally {
      await nats.cleanup();
    }
  });

  it("nkey seed file", async function () {
    const user = nkeys.createUser();
    const seedFile = join(dir, "user.nk");
    writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()), { mode: 0o600 });
    const nats = await startNats(`authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }`);
    try {
      await roundTrip(nats.url, { TASKWIRE_NATS_NKEY_FILE: seedFile });
      writeFileSync(join(dir, "bad.nk"), "not a seed");
      await assert.rejects(NatsHandle.connect({ servers: nats.url, auth: { nkeyFile: join(dir, "bad.nk") } }), /TASKWIRE_NATS_NKEY_FILE=.*expected a user nkey seed/);
    } finally {
      await nats.cleanup();
    }
  });

  it("TLS with a client certificate (the server verifies clients)", async function () {
    const tls = `tls { cert_file: "${certs.serverCert}", key_file: "${certs.serverKey}", ca_file: "${certs.ca}", verify: true }`;
    const nats = await startNats(tls);
    try {
      await roundTrip(nats.url, { TASKWIRE_NATS_TLS_CA: certs.ca, TASKWIRE_NATS_TLS_CERT: certs.clientCert, TASKWIRE_NATS_TLS_KEY: certs.clientKey });
      // Without a client certificate the server's TLS 1.3 alert is "certificate required" (116) on
      // nats-server 2.10+ (newer Go), "bad certificate" (42) on 2.9; or it resets the connection first.
      await assert.rejects(NatsHandle.connect({ servers: nats.url, auth: { tlsCa: certs.ca } }), /TLS to NATS failed \(.*(bad certificate|certificate required|ECONNRESET).*\): check TASKWIRE_NATS_TLS_CA .*TASKWIRE_NATS_TLS_CERT/);
    } finally {
      await nats.cleanup();
    }
  });

  it("refuses contradictory settings before connecting", async function () {
    const bad: NatsAuth[] = [{ user: "a" }, { token: "t", user: "a", password: "b" }, { tlsCert: certs.clientCert }, { credsFile: join(dir, "missing.creds") }];
    for (const auth of bad) await assert.rejects(NatsHandle.connect({ servers: "nats://127.0.0.1:1", auth }), /invalid configuration/);
  });

  it("the account layout of docs/security.md: workers run tasks but cannot forge run messages, cancel notices, idempotency keys or schedules", async function () {
    // The layout is kept in docs/nats-accounts.conf and included verbatim, so the doc is what is tested.
    const layout = readFileSync(join(REPO, "docs/nats-accounts.conf"), "utf8").replaceAll("$BROKER_PASSWORD", "pw-broker-0123456789").replaceAll("$WORKER_PASSWORD", "pw-worker-0123456789");
    const nats = await startNats(layout);
    try {
      const brokerEnv = { TASKWIRE_NATS_USER: "taskwire-broker", TASKWIRE_NATS_PASSWORD: "pw-broker-0123456789" };
      const workerEnv = { TASKWIRE_NATS_USER: "taskwire-worker", TASKWIRE_NATS_PASSWORD: "pw-worker-0123456789" };
      await roundTrip(nats.url, brokerEnv, workerEnv);
      const w = await NatsHandle.connect({ servers: nats.url, auth: { user: "taskwire-worker", password: "pw-worker-0123456789" } });
      const denied: string[] = [];
      // Publish permission violations come back asynchronously, as status errors.
      const watching = (async () => {
        for await (const s of w.nc.status()) if (s.type === "error") denied.push(String((s as { error?: unknown }).error));
      })();
      try {
        for (const subject of ["taskwire.run.default.anything", "taskwire.cancel.someone", "taskwire.sched.x", "taskwire.idx.default.default.anything", "$KV.taskwire_idempotency.k", "$KV.taskwire_schedules.s", "$JS.API.STREAM.DELETE.TASKWIRE_RUNS", "$JS.API.STREAM.PURGE.KV_taskwire_runs"]) {
          w.nc.publish(subject, new Uint8Array([1]));
        }
        await w.nc.flush();
        const deadline = Date.now() + 5_000;
        while (denied.length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.equal(denied.filter((d) => /permissions violation for publish/i.test(d)).length, 8, denied.join("\n"));
      } finally {
        await w.close();
        await watching;
      }
    } finally {
      await nats.cleanup();
    }
  });
});
