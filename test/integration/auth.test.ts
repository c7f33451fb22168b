// TLS, mTLS, bearer tokens with scopes, and namespaces, against a real
// broker and nats-server, with certificates made in the test.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { SignJWT } from "jose";
import { Client, RunState, Status, task, TaskwireError } from "@taskwire/client";
import type { Broker } from "@taskwire/broker";
import { GetStatusRequest, TaskServiceClient } from "@taskwire/protocol";
import type { Worker } from "@taskwire/worker";
import { type CertFiles, makeCerts } from "../helpers/certs.js";
import { startBroker, startNats, startWorker, uniq, waitFor } from "../helpers/env.js";
import { HealthClient } from "../helpers/health.js";

const SECRET = "an-hs256-secret-of-at-least-32-bytes!!";
const key = new TextEncoder().encode(SECRET);

async function jwt(claims: Record<string, unknown>, opts: { exp?: string | number; secret?: Uint8Array; sub?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(opts.sub ?? "tester")
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? "1h")
    .sign(opts.secret ?? key);
}

const ALL = "runs:submit runs:read runs:cancel schedules:admin";

/** Asserts that `p` fails with `code` and a message matching `re`. */
async function rejectsWith(p: Promise<unknown>, code: Status, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TaskwireError, `expected a TaskwireError, got ${String(e)}`);
    assert.equal(Status[e.code], Status[code], e.message);
    assert.match(e.message, re);
    return true;
  });
}

describe("security: TLS, mTLS, tokens, scopes and namespaces", function () {
  this.timeout(60_000);
  let nats: Awaited<ReturnType<typeof startNats>>;
  let dir: string;
  let certs: CertFiles;
  let worker: Worker;
  let executions = 0;
  const cached = task(uniq("ns-cached"), async (x: number) => {
    executions++;
    return x * 2;
  });
  const sleepy = task(uniq("ns-sleepy"), async (ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    return ms;
  });
  const clients: Client[] = [];
  const client = (c: ConstructorParameters<typeof Client>[0]): Client => {
    const out = new Client({ callRetry: false, ...c });
    clients.push(out);
    return out;
  };

  before(async function () {
    nats = await startNats();
    dir = mkdtempSync(join(tmpdir(), "taskwire-auth-"));
    certs = await makeCerts(join(dir, "one"));
    worker = await startWorker(nats.url, [cached, sleepy]);
  });
  after(async function () {
    for (const c of clients) c.close();
    await worker?.stop();
    await nats?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  describe("TLS and mTLS", function () {
    let tlsBroker: Broker;
    let mtlsBroker: Broker;
    let live: { cert: string; key: string; ca: string };

    before(async function () {
      // The broker reads copies, so the test can replace them to check reloading.
      live = { cert: join(dir, "live.crt"), key: join(dir, "live.key"), ca: join(dir, "live-ca.crt") };
      copyFileSync(certs.serverCert, live.cert);
      copyFileSync(certs.serverKey, live.key);
      copyFileSync(certs.ca, live.ca);
      tlsBroker = await startBroker(nats.url, { tlsCert: live.cert, tlsKey: live.key });
      mtlsBroker = await startBroker(nats.url, { tlsCert: certs.serverCert, tlsKey: certs.serverKey, tlsClientCa: certs.ca });
    });
    after(async function () {
      await tlsBroker?.stop();
      await mtlsBroker?.stop();
    });

    it("serves TLS: a client trusting the CA submits and reads; plaintext and an untrusting client fail", async function () {
      const c = client({ address: `localhost:${tlsBroker.port}`, tls: { ca: certs.ca } });
      const run = await c.submit(sleepy.taskName, [1]);
      assert.equal((await run.wait({ timeoutMs: 10_000 })).state, RunState.RUN_STATE_COMPLETED);
      await rejectsWith(client({ address: `localhost:${tlsBroker.port}`, callTimeoutMs: 2_000 }).getStatus(run.id), Status.UNAVAILABLE, /./);
      const other = await makeCerts(join(dir, "other"), "other");
      await rejectsWith(client({ address: `localhost:${tlsBroker.port}`, tls: { ca: other.ca }, callTimeoutMs: 2_000 }).getStatus(run.id), Status.UNAVAILABLE, /./);
    });

    it("reads TLS settings from the environment (TASKWIRE_TLS_CA)", async function () {
      const saved = process.env.TASKWIRE_TLS_CA;
      process.env.TASKWIRE_TLS_CA = certs.ca;
      try {
        const c = client({ address: `localhost:${tlsBroker.port}` });
        assert.ok((await c.listRuns({ pageSize: 1 })).runs);
      } finally {
        if (saved === undefined) delete process.env.TASKWIRE_TLS_CA;
        else process.env.TASKWIRE_TLS_CA = saved;
      }
    });

    it("requires a client certificate signed by the client CA with mTLS", async function () {
      const ok = client({ address: `localhost:${mtlsBroker.port}`, tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } });
      const run = await ok.submit(sleepy.taskName, [1]);
      assert.equal((await run.wait({ timeoutMs: 10_000 })).state, RunState.RUN_STATE_COMPLETED);
      await rejectsWith(client({ address: `localhost:${mtlsBroker.port}`, tls: { ca: certs.ca }, callTimeoutMs: 2_000 }).getStatus(run.id), Status.UNAVAILABLE, /./);
      const other = await makeCerts(join(dir, "rogue"), "rogue");
      const rogue = client({ address: `localhost:${mtlsBroker.port}`, tls: { ca: certs.ca, cert: other.clientCert, key: other.clientKey }, callTimeoutMs: 2_000 });
      await rejectsWith(rogue.getStatus(run.id), Status.UNAVAILABLE, /./);
    });

    it("reloads the certificate when its files change, without a restart", async function () {
      const next = await makeCerts(join(dir, "rotated"), "rotated");
      // Key first, then the certificate: in between the pair does not match and the old one stays in use.
      copyFileSync(next.serverKey, live.key);
      copyFileSync(next.serverCert, live.cert);
      await waitFor(
        async () => {
          const c = new Client({ address: `localhost:${tlsBroker.port}`, tls: { ca: next.ca }, callRetry: false, callTimeoutMs: 1_000 });
          try {
            return (await c.listRuns({ pageSize: 1 })).runs !== undefined;
          } finally {
            c.close();
          }
        },
        "a client trusting only the new CA to connect",
        15_000,
        200,
      );
      // New connections no longer get the old certificate.
      await rejectsWith(client({ address: `localhost:${tlsBroker.port}`, tls: { ca: certs.ca }, callTimeoutMs: 2_000 }).listRuns({ pageSize: 1 }), Status.UNAVAILABLE, /./);
    });

    it("refuses to start with a certificate whose key does not match", async function () {
      const other = await makeCerts(join(dir, "mismatch"), "mismatch");
      await assert.rejects(startBroker(nats.url, { tlsCert: certs.serverCert, tlsKey: other.serverKey }), /not a usable PEM certificate, matching key/);
      await assert.rejects(startBroker(nats.url, { tlsCert: certs.serverCert }), /TLS needs both TASKWIRE_TLS_CERT and TASKWIRE_TLS_KEY/);
    });
  });

  describe("tokens, scopes and namespaces", function () {
    let broker: Broker;
    let tokensFile: string;
    const staticToken = "tw_static_token_for_tests_0123456789";
    const addr = (): string => broker.address;

    before(async function () {
      tokensFile = join(dir, "tokens.yaml");
      writeFileSync(tokensFile, `"${staticToken}":\n  name: ci-reader\n  namespace: team-b\n  scopes: [runs:read]\n`);
      broker = await startBroker(nats.url, { authJwtSecret: SECRET, authTokensFile: tokensFile });
    });
    after(async function () {
      await broker?.stop();
    });

    it("answers UNAUTHENTICATED, saying why: missing, malformed, bad signature, expired, unknown static token", async function () {
      await rejectsWith(client({ address: addr() }).getStatus("019a0000-0000-7000-8000-000000000000"), Status.UNAUTHENTICATED, /missing token/);
      await rejectsWith(client({ address: addr(), token: "not-a-jwt" }).listRuns(), Status.UNAUTHENTICATED, /unknown static token/);
      await rejectsWith(client({ address: addr(), token: "a.b.c" }).listRuns(), Status.UNAUTHENTICATED, /malformed token/);
      const forged = await jwt({ scope: ALL }, { secret: new TextEncoder().encode("another-secret-of-at-least-32-bytes!!!") });
      await rejectsWith(client({ address: addr(), token: forged }).listRuns(), Status.UNAUTHENTICATED, /bad signature/);
      const expired = await jwt({ scope: ALL }, { exp: Math.floor(Date.now() / 1000) - 60 });
      await rejectsWith(client({ address: addr(), token: expired }).listRuns(), Status.UNAUTHENTICATED, /token expired/);
      // A header that is not "Bearer <token>".
      const raw = new TaskServiceClient(addr(), credentials.createInsecure());
      const md = new Metadata();
      md.set("authorization", "Basic dXNlcjpwYXNz");
      const err = await new Promise<ServiceError | null>((r) => raw.getStatus(GetStatusRequest.fromPartial({ runId: "x" }), md, (e) => r(e)));
      raw.close();
      assert.equal(err?.code, Status.UNAUTHENTICATED);
      assert.match(err?.details ?? "", /malformed authorization/);
    });

    it("allows each scope its RPCs and answers PERMISSION_DENIED naming the scope and the method otherwise", async function () {
      const ns = uniq("scopes");
      const as = async (scope: string): Promise<Client> => client({ address: addr(), token: await jwt({ scope, taskwire_ns: ns }) });
      const submitter = await as("runs:submit");
      const reader = await as("runs:read");
      const canceller = await as("runs:cancel");
      const admin = await as("schedules:admin");
      const run = await submitter.submit(sleepy.taskName, [5_000], { delayMs: 60_000 });
      await rejectsWith(submitter.getStatus(run.id), Status.PERMISSION_DENIED, /GetStatus needs the scope "runs:read"/);
      assert.equal((await reader.getStatus(run.id)).id, run.id);
      assert.ok((await reader.listRuns({ pageSize: 10 })).runs.some((r) => r.id === run.id));
      await rejectsWith(reader.submit(sleepy.taskName, [1]), Status.PERMISSION_DENIED, /Submit needs the scope "runs:submit"/);
      await rejectsWith(reader.cancel(run.id), Status.PERMISSION_DENIED, /Cancel needs the scope "runs:cancel"/);
      assert.equal((await canceller.cancel(run.id)).state, RunState.RUN_STATE_CANCELLED);
      await rejectsWith(canceller.listSchedules(), Status.PERMISSION_DENIED, /ListSchedules needs the scope "schedules:admin"/);
      assert.ok(Array.isArray(await admin.listSchedules()));
      await rejectsWith(admin.retry(run.id), Status.PERMISSION_DENIED, /Retry needs the scope "runs:cancel"/);
      // StreamEvents is a read.
      const it = submitter.events({ runIds: [run.id], untilTerminal: true });
      await assert.rejects(
        (async () => {
          for await (const _ of it) void _;
        })(),
        (e: unknown) => e instanceof TaskwireError && e.code === Status.PERMISSION_DENIED && /StreamEvents needs the scope "runs:read"/.test(e.message),
      );
      // A scopes array works too; a static token carries its file's scopes and namespace.
      const arr = client({ address: addr(), token: await jwt({ scopes: ["runs:read"], taskwire_ns: ns }) });
      assert.equal((await arr.getStatus(run.id)).id, run.id);
      const fromFile = client({ address: addr(), token: staticToken });
      await rejectsWith(fromFile.getStatus(run.id), Status.NOT_FOUND, /not found/);
      await rejectsWith(fromFile.submit(sleepy.taskName, [1]), Status.PERMISSION_DENIED, /ci-reader \(namespace team-b\)/);
    });

    it("keeps two namespaces apart: runs, listings, events, idempotency keys, cached results and schedules", async function () {
      const a = client({ address: addr(), token: await jwt({ scope: ALL, taskwire_ns: "team-a" }, { sub: "alice" }) });
      const b = client({ address: addr(), token: await jwt({ scope: ALL, taskwire_ns: "team-b" }, { sub: "bob" }) });
      const run = await a.submit(sleepy.taskName, [1]);
      await run.wait({ timeoutMs: 10_000 });
      assert.equal((await a.getStatus(run.id)).namespace, "team-a");
      const unknown = "019a0000-0000-7000-8000-000000000000";
      const message = async (p: Promise<unknown>): Promise<string> => {
        try {
          await p;
        } catch (e) {
          assert.ok(e instanceof TaskwireError && e.code === Status.NOT_FOUND, String(e));
          return e.message.replace(run.id, "ID").replace(unknown, "ID");
        }
        throw new Error("expected NOT_FOUND");
      };
      // Another namespace's run is answered exactly as a run that does not exist.
      assert.equal(await message(b.getStatus(run.id)), await message(b.getStatus(unknown)));
      await message(b.getStatus(run.id, 1_000));
      await message(b.cancel(run.id));
      await message(b.retry(run.id));
      await assert.rejects(
        (async () => {
          for await (const _ of b.events({ runIds: [run.id], untilTerminal: true })) void _;
        })(),
        (e: unknown) => e instanceof TaskwireError && e.code === Status.NOT_FOUND,
      );
      assert.ok(!(await b.listRuns({ task: sleepy.taskName, pageSize: 1000 })).runs.some((r) => r.id === run.id));
      assert.ok((await a.listRuns({ task: sleepy.taskName, pageSize: 1000 })).runs.some((r) => r.id === run.id));

      // Events of all runs, replayed from the start: b's stream does not
      // carry a's runs. a's run finishes before b's starts, so by b's
      // terminal event the stream has passed all of a's.
      const ra = await a.submit(sleepy.taskName, [1]);
      await ra.wait({ timeoutMs: 10_000 });
      const rb = await b.submit(sleepy.taskName, [1]);
      await rb.wait({ timeoutMs: 10_000 });
      const ac = new AbortController();
      const seen: string[] = [];
      try {
        for await (const e of b.events({ tasks: [sleepy.taskName], afterCursor: "1" }, ac.signal)) {
          seen.push(e.runId);
          if (e.runId === rb.id && e.state === RunState.RUN_STATE_COMPLETED) ac.abort();
        }
      } catch (err) {
        if (!ac.signal.aborted) throw err;
      }
      assert.ok(seen.includes(rb.id), "b sees its own run");
      assert.ok(!seen.includes(ra.id) && !seen.includes(run.id), "b saw a run of namespace team-a");

      // Idempotency keys are per namespace.
      const k = uniq("key");
      const a1 = await a.submit(sleepy.taskName, [1], { idempotencyKey: k });
      const a2 = await a.submitRaw({ task: sleepy.taskName, args: { contentType: "application/json", data: Buffer.from("[1]") }, options: { ...(await a.getStatus(a1.id)).options!, idempotencyKey: k }, requestId: "" });
      const b1 = await b.submit(sleepy.taskName, [1], { idempotencyKey: k });
      assert.equal(a2.run.id, a1.id);
      assert.notEqual(b1.id, a1.id);

      // Cached results are per namespace.
      const before = executions;
      const ck = uniq("cache");
      const c1 = await a.submit(cached.taskName, [21], { cacheTtlMs: 60_000, cacheKey: ck } as never);
      assert.equal((await c1.wait({ timeoutMs: 10_000 })).state, RunState.RUN_STATE_COMPLETED);
      const c2 = await a.submit(cached.taskName, [21], { cacheTtlMs: 60_000, cacheKey: ck } as never);
      assert.equal((await a.getStatus(c2.id)).cached, true, "a's second submit is a cache hit");
      const c3 = await b.submit(cached.taskName, [21], { cacheTtlMs: 60_000, cacheKey: ck } as never);
      const r3 = await c3.wait({ timeoutMs: 10_000 });
      assert.equal(r3.cached, false, "b does not see a's cached result");
      assert.equal(executions - before, 2);

      // Schedules: same name in two namespaces, each sees and deletes only its own; fires run in the schedule's namespace.
      const name = uniq("nightly");
      await a.createSchedule({ name, cron: "* * * * * *", task: sleepy.taskName, args: [1] });
      await b.createSchedule({ name, cron: "0 0 1 1 *", task: sleepy.taskName, args: [2] });
      assert.equal((await a.listSchedules()).find((s) => s.name === name)?.cron, "* * * * * *");
      assert.equal((await b.listSchedules()).find((s) => s.name === name)?.cron, "0 0 1 1 *");
      assert.equal((await a.listSchedules()).find((s) => s.name === name)?.namespace, "team-a");
      const fired = await waitFor(async () => (await a.listSchedules()).find((s) => s.name === name)?.lastRunId, "a's schedule to fire", 10_000);
      assert.equal((await a.getStatus(fired)).namespace, "team-a");
      await rejectsWith(b.getStatus(fired), Status.NOT_FOUND, /not found/);
      await b.deleteSchedule(name);
      assert.ok((await a.listSchedules()).some((s) => s.name === name), "b's delete left a's schedule alone");
      await rejectsWith(b.pauseSchedule(name), Status.NOT_FOUND, /not found/);
      await a.deleteSchedule(name);
    });

    it("verifies JWTs against a JWKS file and a JWKS URL, with issuer and audience", async function () {
      const { exportJWK, generateKeyPair } = await import("jose");
      const { createServer } = await import("node:http");
      const keys = await generateKeyPair("ES256");
      const jwk = { ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
      const jwksFile = join(dir, "jwks.json");
      writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
      const signed = (claims: Record<string, unknown>, iss = "https://id.example", key = keys.privateKey) =>
        new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(iss).setAudience("taskwire").setSubject("svc").setExpirationTime("5m").sign(key);
      const http = createServer((_req, res) => res.setHeader("content-type", "application/json").end(JSON.stringify({ keys: [jwk] })));
      await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
      const port = (http.address() as { port: number }).port;
      const fromFile = await startBroker(nats.url, { authJwksFile: jwksFile, authIssuer: "https://id.example", authAudience: "taskwire" });
      const fromUrl = await startBroker(nats.url, { authJwksUrl: `http://127.0.0.1:${port}/jwks.json` });
      try {
        for (const b of [fromFile, fromUrl]) {
          const ok = client({ address: b.address, token: await signed({ scope: "runs:read", taskwire_ns: "jwks" }) });
          assert.deepEqual((await ok.listRuns({ pageSize: 1 })).runs, []);
          const other = await generateKeyPair("ES256");
          await rejectsWith(client({ address: b.address, token: await signed({ scope: "runs:read" }, undefined, other.privateKey) }).listRuns(), Status.UNAUTHENTICATED, /bad signature/);
        }
        await rejectsWith(client({ address: fromFile.address, token: await signed({ scope: "runs:read" }, "https://evil.example") }).listRuns(), Status.UNAUTHENTICATED, /claim "iss"/);
      } finally {
        await fromFile.stop();
        await fromUrl.stop();
        http.close();
      }
    });

    it("keeps health and reflection open; reflection can be turned off", async function () {
      assert.equal(await HealthClient.check(addr()), "SERVING");
      assert.ok((await HealthClient.reflectedServices(addr())).includes("taskwire.v1.TaskService"));
      const quiet = await startBroker(nats.url, { authJwtSecret: SECRET, reflection: false });
      try {
        await assert.rejects(HealthClient.reflectedServices(quiet.address), /UNIMPLEMENTED/);
        assert.equal(await HealthClient.check(quiet.address), "SERVING");
      } finally {
        await quiet.stop();
      }
    });
  });

  describe("the loopback rule", function () {
    it("refuses a non-loopback address without TLS and auth, naming what is missing", async function () {
      await assert.rejects(startBroker(nats.url, { listen: "0.0.0.0:0" }), /refusing to serve 0\.0\.0\.0:0 without TLS .* and auth .*--insecure/);
      await assert.rejects(startBroker(nats.url, { listen: "0.0.0.0:0", authJwtSecret: SECRET }), (e: Error) => /refusing to serve 0\.0\.0\.0:0 without TLS/.test(e.message) && !/and auth/.test(e.message));
    });
  });
});
