// WorkerService (proto/taskwire/v1/worker.proto) against a real broker and
// nats-server, driven by a bare grpc-js client that speaks the protocol the
// way a worker in any language would (helpers/remote-worker.ts). The Python
// and Go SDKs are tested on top of this in their own suites.
import assert from "node:assert/strict";
import { AttemptOutcome, Client, EventType, RunState, task } from "@taskwire/client";
import type { WorkerTask } from "@taskwire/protocol";
import { SignJWT } from "jose";
import { status as Status } from "@grpc/grpc-js";
import { uniq, startWorker, waitFor } from "../helpers/env.js";
import { RawWorker } from "../helpers/remote-worker.js";
import { useStack } from "../helpers/stack.js";

const HB = 500;

describe("WorkerService: remote workers through the broker", function () {
  this.timeout(60_000);
  const s = useStack({ broker: { workerHeartbeatMs: HB } });
  const stack = (): typeof s => s;
  const workers: RawWorker[] = [];
  const connect = (name: string | string[], opts: Partial<ConstructorParameters<typeof RawWorker>[0]["hello"]> = {}, more: Partial<ConstructorParameters<typeof RawWorker>[0]> = {}): RawWorker => {
    const names = Array.isArray(name) ? name : [name];
    const w = new RawWorker({
      address: stack().broker.address,
      hello: { tasks: names.map((n) => ({ name: n, retry: undefined, timeoutMs: 0, scheduleToStartTimeoutMs: 0, concurrencyLimit: 0, keyConcurrencyLimit: 0, rateLimit: undefined })), ...opts },
      ...more,
    });
    workers.push(w);
    return w;
  };
  afterEach(function () {
    for (const w of workers.splice(0)) w.kill();
  });

  it("welcomes a worker, assigns a run and records its result", async function () {
    const name = uniq("rw-add");
    const w = connect(name, { workerId: `w-${name}` });
    const welcome = await w.welcome;
    assert.equal(welcome.workerId, `w-${name}`);
    assert.equal(Number(welcome.heartbeatIntervalMs), HB / 2);
    assert.equal(welcome.namespace, "default");
    const h = await stack().client.submit<number>(name, [2, 3]);
    const a = await w.assignments.next(10_000, "assignment");
    assert.equal(a.runId, h.id);
    assert.equal(a.attempt, 1);
    assert.deepEqual(JSON.parse(Buffer.from(a.args?.data ?? []).toString()), [2, 3]);
    assert.match(a.traceParent, /^$|^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/); // empty without a trace to continue
    const running = await stack().client.getStatus(h.id);
    assert.equal(running.state, RunState.RUN_STATE_RUNNING);
    assert.equal(running.workerId, `w-${name}`);
    w.complete(a, 5);
    assert.equal(await h.result({ timeoutMs: 10_000 }), 5);
  });

  it("lists a connected worker in /v1/workers (what it serves and runs) until it leaves", async function () {
    const name = uniq("rw-list");
    const id = `listed-${name}`;
    const w = connect(name, { workerId: id, concurrency: 3 });
    await w.welcome;
    const h = await stack().client.submit(name, []);
    const a = await w.assignments.next(10_000, "assignment");
    type Listed = { id: string; tasks: string[]; concurrency: number; runIds: string[] };
    const listed = async (): Promise<Listed | undefined> => {
      const res = await fetch(`http://${stack().broker.httpAddress}/v1/workers`);
      const body = (await res.json()) as { workers: Listed[] };
      return body.workers.find((x) => x.id === id);
    };
    const entry = await waitFor(async () => {
      const e = await listed();
      return e && e.runIds.includes(h.id) ? e : undefined;
    }, "the worker's record with its run", 10_000, 50);
    assert.deepEqual(entry.tasks, [name]);
    assert.equal(entry.concurrency, 3);
    w.complete(a, 1);
    await h.result({ timeoutMs: 10_000 });
    w.close();
    await w.ended;
    await waitFor(async () => (await listed()) === undefined, "the record removed", 10_000, 50);
  });

  it("refuses a stream whose first message is not a valid hello, naming the field", async function () {
    const bad = connect("bad name!");
    const end = await bad.ended;
    assert.equal(end.code, Status.INVALID_ARGUMENT);
    assert.match(end.details, /hello\.tasks\[0\]\.name/);
    const none = new RawWorker({ address: stack().broker.address, hello: { tasks: [] } });
    workers.push(none);
    const end2 = await none.ended;
    assert.equal(end2.code, Status.INVALID_ARGUMENT);
    assert.match(end2.details, /hello\.tasks: is empty/);
  });

  it("never holds more runs for a worker than its concurrency", async function () {
    const name = uniq("rw-conc");
    const w = connect(name, { concurrency: 2 });
    await w.welcome;
    const hs = await Promise.all([1, 2, 3, 4, 5].map((i) => stack().client.submit<number>(name, [i])));
    const a1 = await w.assignments.next(10_000, "assignment 1");
    const a2 = await w.assignments.next(10_000, "assignment 2");
    await assert.rejects(w.assignments.next(600, "a third assignment"));
    w.complete(a1, "one");
    const a3 = await w.assignments.next(10_000, "assignment 3");
    w.complete(a2, "two");
    w.complete(a3, "three");
    for (let i = 0; i < 2; i++) w.complete(await w.assignments.next(10_000, "assignment"), "more");
    const states = await Promise.all(hs.map(async (h) => (await stack().client.getStatus(h.id, 10_000)).state));
    assert.deepEqual(states, Array(5).fill(RunState.RUN_STATE_COMPLETED));
  });

  it("retries by the task's declared policy, visibly, and honours retry_after_ms", async function () {
    const name = uniq("rw-retry");
    const w = connect([], {
      tasks: [{ name, retry: { maxRetries: 2, initialDelayMs: 0, backoffMultiplier: 0, maxDelayMs: 0, jitter: 0, delaysMs: [50], retryOn: [], neverRetryOn: [] }, timeoutMs: 0, scheduleToStartTimeoutMs: 0, concurrencyLimit: 0, keyConcurrencyLimit: 0, rateLimit: undefined }],
    });
    const h = await stack().client.submit<number>(name, []);
    const a1 = await w.assignments.next(10_000, "attempt 1");
    w.fail(a1, "FlakyError", "attempt 1 fails");
    const a2 = await w.assignments.next(10_000, "attempt 2");
    assert.equal(a2.attempt, 2);
    const t = Date.now();
    w.fail(a2, "RateLimited", "later", true, 400);
    const a3 = await w.assignments.next(10_000, "attempt 3");
    assert.ok(Date.now() - t >= 350, `retry_after_ms 400 honoured (${Date.now() - t} ms)`);
    w.complete(a3, a3.attempt);
    assert.equal(await h.result({ timeoutMs: 10_000 }), 3);
    const run = await stack().client.getStatus(h.id);
    assert.deepEqual(run.attempts.map((x) => x.outcome), [AttemptOutcome.ATTEMPT_OUTCOME_FAILED, AttemptOutcome.ATTEMPT_OUTCOME_FAILED, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED]);
    assert.equal(run.attempts[0]?.error?.type, "FlakyError");
  });

  it("records log lines and progress as events, in order, before the outcome", async function () {
    const name = uniq("rw-log");
    const w = connect(name);
    const h = await stack().client.submit(name, []);
    const a = await w.assignments.next(10_000, "assignment");
    w.send({ log: { runId: a.runId, attempt: a.attempt, level: "info", message: "step one", time: new Date() } });
    w.send({ progress: { runId: a.runId, attempt: a.attempt, fraction: 0.5, message: "half" } });
    w.send({ log: { runId: a.runId, attempt: a.attempt, level: "warn", message: "step two", time: new Date() } });
    w.complete(a, "done");
    await h.result({ timeoutMs: 10_000 });
    const run = await stack().client.getStatus(h.id);
    assert.deepEqual(run.logs.map((l) => [l.level, l.message]), [["info", "step one"], ["warn", "step two"]]);
    assert.equal(run.progress?.fraction, 0.5);
    const types: EventType[] = [];
    for await (const e of stack().client.events({ runIds: [h.id], untilTerminal: true })) types.push(e.type);
    assert.deepEqual(types.filter((t) => t !== EventType.EVENT_TYPE_PROGRESS), [EventType.EVENT_TYPE_SUBMITTED, EventType.EVENT_TYPE_STARTED, EventType.EVENT_TYPE_LOG, EventType.EVENT_TYPE_LOG, EventType.EVENT_TYPE_COMPLETED]);
    assert.ok(types.includes(EventType.EVENT_TYPE_PROGRESS));
  });

  it("passes a cancel of a running run to its worker, which records CANCELLED", async function () {
    const name = uniq("rw-cancel");
    const w = connect(name);
    const h = await stack().client.submit(name, []);
    const a = await w.assignments.next(10_000, "assignment");
    await stack().client.cancel(h.id, "user changed their mind");
    const c = await w.cancels.next(10_000, "cancel notice");
    assert.equal(c.runId, a.runId);
    assert.equal(c.attempt, 1);
    assert.match(c.reason, /changed their mind/);
    w.send({ finished: { runId: a.runId, attempt: a.attempt, cancelled: { reason: c.reason } } });
    const run = await stack().client.getStatus(h.id, 10_000);
    assert.equal(run.state, RunState.RUN_STATE_CANCELLED);
  });

  it("records the timeout itself when the worker does not report it, and keeps the slot until the worker does", async function () {
    const name = uniq("rw-timeout");
    const w = connect(name, { concurrency: 1 });
    const h = await stack().client.submit(name, [], { timeoutMs: 200 });
    const a = await w.assignments.next(10_000, "assignment");
    assert.equal(Number(a.timeoutMs), 200);
    assert.ok(a.deadline instanceof Date);
    const c = await w.cancels.next(15_000, "cancel notice at the timeout");
    assert.match(c.reason, /timeout of 200 ms/);
    const run = await stack().client.getStatus(h.id, 10_000);
    assert.equal(run.state, RunState.RUN_STATE_FAILED);
    assert.equal(run.attempts[0]?.outcome, AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT);
    const next = await stack().client.submit(name, []);
    await assert.rejects(w.assignments.next(500, "an assignment while the slot is still taken"));
    w.send({ finished: { runId: a.runId, attempt: a.attempt, timedOut: {} } });
    const b = await w.assignments.next(10_000, "assignment after the late report");
    assert.equal(b.runId, next.id);
    w.complete(b, 1);
    await next.result({ timeoutMs: 10_000 });
  });

  it("puts the runs of a worker whose stream drops back in play within 2 × the heartbeat; another worker completes them", async function () {
    const name = uniq("rw-kill");
    const w1 = connect(name, { workerId: `doomed-${name}` });
    const h = await stack().client.submit<string>(name, []);
    await w1.assignments.next(10_000, "assignment on the first worker");
    const w2 = connect(name, { workerId: `survivor-${name}` });
    await w2.welcome;
    const killedAt = Date.now();
    w1.kill();
    const a = await w2.assignments.next(10_000, "the run on the second worker");
    const took = Date.now() - killedAt;
    assert.ok(took <= 2 * HB + 1_000, `back in play after ${took} ms`);
    assert.equal(a.attempt, 2);
    w2.complete(a, "survived");
    assert.equal(await h.result({ timeoutMs: 10_000 }), "survived");
    const run = await stack().client.getStatus(h.id);
    assert.deepEqual(run.attempts.map((x) => x.outcome), [AttemptOutcome.ATTEMPT_OUTCOME_CRASHED, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED]);
  });

  it("ends the session of a worker that stops talking (DEADLINE_EXCEEDED) and hands its runs back at once", async function () {
    const name = uniq("rw-silent");
    const w1 = connect(name, { workerId: `hung-${name}` });
    const h = await stack().client.submit<string>(name, []);
    await w1.assignments.next(10_000, "assignment");
    const w2 = connect(name);
    await w2.welcome;
    const frozeAt = Date.now();
    w1.freeze();
    const end = await w1.ended;
    assert.equal(end.code, Status.DEADLINE_EXCEEDED);
    const a = await w2.assignments.next(10_000, "the run on the second worker");
    assert.ok(Date.now() - frozeAt <= 2 * HB + 1_000, `back in play after ${Date.now() - frozeAt} ms`);
    w2.complete(a, "ok");
    assert.equal(await h.result({ timeoutMs: 10_000 }), "ok");
  });

  it("lets a worker that reconnects under the same id keep its runs (no crash recorded)", async function () {
    const name = uniq("rw-reconnect");
    const id = `phoenix-${name}`;
    const w1 = connect(name, { workerId: id });
    const h = await stack().client.submit<string>(name, []);
    const a = await w1.assignments.next(10_000, "assignment");
    w1.kill();
    const w2 = connect(name, { workerId: id, running: [{ runId: a.runId, attempt: a.attempt }] });
    await w2.welcome;
    // Longer than the redelivery deadline: the message comes back to a claim, which asks the holder (w2) and leaves the run to it.
    await new Promise((r) => setTimeout(r, 3 * HB));
    w2.complete(a, "kept");
    assert.equal(await h.result({ timeoutMs: 10_000 }), "kept");
    const run = await stack().client.getStatus(h.id);
    assert.deepEqual(run.attempts.map((x) => x.outcome), [AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED]);
  });

  it("hands a run over, with its message and timeout backstop, to a new stream of the same worker on this broker", async function () {
    const name = uniq("rw-handover");
    const id = `twice-${name}`;
    const w1 = connect(name, { workerId: id });
    const h = await stack().client.submit(name, [], { timeoutMs: 300 });
    const a = await w1.assignments.next(10_000, "assignment");
    // The same worker on a second stream (the first one looks alive: a half-open connection).
    const w2 = connect(name, { workerId: id, running: [{ runId: a.runId, attempt: a.attempt }] });
    await w2.welcome;
    assert.equal((await w1.ended).code, Status.ABORTED);
    // Never reported: the new session's backstop records the timeout.
    const c = await w2.cancels.next(15_000, "cancel notice at the timeout");
    assert.equal(c.runId, a.runId);
    const run = await stack().client.getStatus(h.id, 10_000);
    assert.equal(run.state, RunState.RUN_STATE_FAILED);
    assert.deepEqual(run.attempts.map((x) => x.outcome), [AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT]);
  });

  it("stops assigning after a drain; assigned runs still report; a half-close ends the stream with OK", async function () {
    const name = uniq("rw-drain");
    const w = connect(name, { concurrency: 1 });
    const h1 = await stack().client.submit(name, []);
    const a = await w.assignments.next(10_000, "assignment");
    w.send({ drain: {} });
    const h2 = await stack().client.submit(name, []);
    w.complete(a, "first");
    await h1.result({ timeoutMs: 10_000 });
    await assert.rejects(w.assignments.next(700, "an assignment after the drain"));
    w.close();
    assert.equal((await w.ended).code, Status.OK);
    const w2 = connect(name);
    w2.complete(await w2.assignments.next(10_000, "the second run elsewhere"), "second");
    assert.equal(await h2.result({ timeoutMs: 10_000 }), "second");
  });

  it("keeps a large result in the Object Store and fails one above the limit or not JSON", async function () {
    const name = uniq("rw-large");
    const w = connect(name, { concurrency: 3 });
    const big = await stack().client.submit<string>(name, ["big"]);
    const huge = await stack().client.submit<string>(name, ["huge"]);
    const junk = await stack().client.submit<string>(name, ["junk"]);
    for (let i = 0; i < 3; i++) {
      const a = await w.assignments.next(10_000, "assignment");
      const which = JSON.parse(Buffer.from(a.args?.data ?? []).toString())[0] as string;
      if (which === "big") w.complete(a, "x".repeat(200_000));
      else if (which === "huge") w.complete(a, "x".repeat(3_200_000));
      else w.send({ finished: { runId: a.runId, attempt: a.attempt, result: { contentType: "application/json", data: Buffer.from("{not json") } } });
    }
    assert.equal((await big.result({ timeoutMs: 10_000 })).length, 200_000);
    const rec = await stack().client.getStatus(big.id);
    assert.equal(rec.resultRef, big.id);
    const h = await stack().client.getStatus(huge.id, 10_000);
    assert.equal(h.error?.type, "ResultTooLarge");
    const j = await stack().client.getStatus(junk.id, 10_000);
    assert.equal(j.error?.type, "ResultNotSerializable");
  });

  it("shares a task with a TS worker: both take runs, each recorded once", async function () {
    const name = uniq("rw-mixed");
    const ts = await startWorker(stack().nats.url, [task(name, async (i: number) => `ts-${i}`)], { heartbeatMs: HB, concurrency: 2 });
    try {
      const w = connect(name, { concurrency: 2 });
      await w.welcome;
      let remote = 0;
      const serve = (async () => {
        for (;;) {
          const a = await w.assignments.next(3_000, "assignment").catch(() => undefined);
          if (!a) return;
          remote++;
          w.complete(a, `remote-${JSON.parse(Buffer.from(a.args?.data ?? []).toString())[0]}`);
        }
      })();
      const hs = await Promise.all(Array.from({ length: 40 }, (_, i) => stack().client.submit<string>(name, [i])));
      const results = await Promise.all(hs.map((h) => h.result({ timeoutMs: 20_000 })));
      await serve;
      results.forEach((r, i) => assert.ok(r === `ts-${i}` || r === `remote-${i}`, r));
      assert.ok(remote > 0, "the remote worker took some runs");
      assert.ok(remote < 40, "the TS worker took some runs");
    } finally {
      await ts.stop();
    }
  });

  it("ends its streams with UNAVAILABLE when the broker stops", async function () {
    const name = uniq("rw-stop");
    const { startBroker } = await import("../helpers/env.js");
    const b = await startBroker(stack().nats.url, { workerHeartbeatMs: HB });
    const w = new RawWorker({ address: b.address, hello: { tasks: [{ name, retry: undefined, timeoutMs: 0, scheduleToStartTimeoutMs: 0, concurrencyLimit: 0, keyConcurrencyLimit: 0, rateLimit: undefined }] } });
    workers.push(w);
    await w.welcome;
    await b.stop();
    const end = await w.ended;
    assert.equal(end.code, Status.UNAVAILABLE);
  });
});

describe("WorkerService: auth and namespaces", function () {
  this.timeout(60_000);
  const SECRET = "an-hs256-secret-of-at-least-32-bytes!!";
  const jwt = (claims: Record<string, unknown>): Promise<string> =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("worker-test").setIssuedAt().setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
  const s = useStack({ broker: { workerHeartbeatMs: HB, authJwtSecret: SECRET } });
  const workers: RawWorker[] = [];
  const clients: Client[] = [];
  const task1 = (name: string): WorkerTask => ({ name, retry: undefined, timeoutMs: 0, scheduleToStartTimeoutMs: 0, concurrencyLimit: 0, keyConcurrencyLimit: 0, rateLimit: undefined });
  const connect = (name: string, token: string | undefined): RawWorker => {
    const w = new RawWorker({ address: s.broker.address, hello: { tasks: [task1(name)] }, token });
    workers.push(w);
    return w;
  };
  const clientOf = (token: string): Client => {
    const c = new Client({ address: s.broker.address, token, callRetry: false });
    clients.push(c);
    return c;
  };
  after(function () {
    for (const w of workers) w.kill();
    for (const c of clients) c.close();
  });

  it("needs a token with the scope workers", async function () {
    const name = uniq("rw-auth");
    const none = await connect(name, undefined).ended;
    assert.equal(none.code, Status.UNAUTHENTICATED);
    const reader = await connect(name, await jwt({ scope: "runs:read" })).ended;
    assert.equal(reader.code, Status.PERMISSION_DENIED);
    assert.match(reader.details, /"workers"/);
  });

  it("executes runs of its token's namespace only", async function () {
    const name = uniq("rw-ns");
    const acme = connect(name, await jwt({ scope: "workers", taskwire_ns: "acme" }));
    assert.equal((await acme.welcome).namespace, "acme");
    const inAcme = await clientOf(await jwt({ scope: "runs:submit runs:read", taskwire_ns: "acme" })).submit<string>(name, []);
    const otherClient = clientOf(await jwt({ scope: "runs:submit runs:read", taskwire_ns: "other" }));
    const inOther = await otherClient.submit<string>(name, []);
    const a = await acme.assignments.next(10_000, "the acme run");
    assert.equal(a.runId, inAcme.id);
    assert.equal(a.namespace, "acme");
    acme.complete(a, "acme");
    assert.equal(await inAcme.result({ timeoutMs: 10_000 }), "acme");
    await assert.rejects(acme.assignments.next(1_500, "a run of another namespace"));
    const other = connect(name, await jwt({ scope: "workers", taskwire_ns: "other" }));
    const b = await other.assignments.next(10_000, "the other namespace's run");
    assert.equal(b.runId, inOther.id);
    other.complete(b, "other");
    assert.equal(await inOther.result({ timeoutMs: 10_000 }), "other");
  });
});
