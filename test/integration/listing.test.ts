// ListRuns from the run index (TASKWIRE_INDEX) against a real nats-server:
// pages, filters, namespaces, tokens across brokers, runs created while
// paging, bounded state scans, and a Submit whose index write fails.
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream";
import { SignJWT } from "jose";
import { Client, RunState, Status, task, TaskwireError } from "@taskwire/client";
import type { Broker } from "@taskwire/broker";
import { INDEX_STREAM, RUNS_BUCKET_STREAM } from "@taskwire/core";
import type { Worker } from "@taskwire/worker";
import { startBroker, startNats, startWorker, uniq } from "../helpers/env.js";

const SECRET = "a-secret-for-listing-tests-of-32-bytes!!";

function token(namespace: string): Promise<string> {
  return new SignJWT({ scope: "runs:submit runs:read runs:cancel", taskwire_ns: namespace })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("lister")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(SECRET));
}

type Listed = { id: string; task: string; state: RunState };

/** Every page of a listing, each page through the next client in turn (brokers share nothing but NATS). */
async function listAll(clients: Client[], opts: { task?: string; queue?: string; states?: RunState[]; pageSize: number }, pageToken = ""): Promise<{ runs: Listed[]; pages: number }> {
  const runs: Listed[] = [];
  let pages = 0;
  do {
    const c = clients[pages % clients.length] as Client;
    const page = await c.listRuns({ ...opts, pageToken });
    runs.push(...page.runs.map((r) => ({ id: r.id, task: r.task, state: r.state })));
    pageToken = page.nextPageToken;
    pages++;
    assert.ok(pages < 5_000);
  } while (pageToken);
  return { runs, pages };
}

const newestFirst = (ids: string[]): string[] => [...ids].sort().reverse();

describe("ListRuns from the run index", function () {
  this.timeout(120_000);
  let nats: Awaited<ReturnType<typeof startNats>>;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let b1: Broker;
  let b2: Broker;
  let worker: Worker;
  const clients: Client[] = [];
  const client = async (broker: Broker, namespace: string): Promise<Client> => {
    const c = new Client({ address: broker.address, token: await token(namespace), callRetry: false });
    clients.push(c);
    return c;
  };
  const ok = task(uniq("list-ok"), async (x: number) => x);
  const bad = task(
    uniq("list-bad"),
    async (x: number) => {
      throw new Error(`no ${x}`);
    },
    { retries: 0 },
  );

  before(async function () {
    nats = await startNats();
    // A small read budget, so the state filters below need several calls.
    b1 = await startBroker(nats.url, { authJwtSecret: SECRET, listScanLimit: 100 });
    b2 = await startBroker(nats.url, { authJwtSecret: SECRET, listScanLimit: 100 });
    worker = await startWorker(nats.url, [ok, bad]);
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
  });
  after(async function () {
    for (const c of clients) c.close();
    await nc?.close();
    await worker?.stop();
    await b1?.stop();
    await b2?.stop();
    await nats?.cleanup();
  });

  it("creates the index stream: every created run, kept for the retention period, direct gets allowed", async function () {
    const si = await jsm.streams.info(INDEX_STREAM);
    assert.deepEqual(si.config.subjects, ["taskwire.idx.>"]);
    assert.equal(si.config.retention, "limits");
    assert.equal(si.config.max_age, (await jsm.streams.info(RUNS_BUCKET_STREAM)).config.max_age, "as long as the run records");
    assert.equal(si.config.allow_direct, true);
    assert.equal(si.config.num_replicas, 1);
  });

  it("pages newest first through two brokers: every run once, filters by task and queue, an empty filter at once", async function () {
    const ns = uniq("ns");
    const [c1, c2] = [await client(b1, ns), await client(b2, ns)];
    const tasks = [uniq("a"), uniq("b"), uniq("c")];
    const made: Array<{ id: string; task: string; queue: string }> = [];
    // Runs submitted through both brokers at once, so their index messages interleave.
    await Promise.all(
      [c1, c2].map(async (c, k) => {
        for (let round = 0; round < 3; round++) {
          const items = Array.from({ length: 40 }, (_, i) => ({ task: tasks[(i + k) % 3] as string, args: [i], options: { queue: i % 4 === 0 ? "bulk" : "default", delayMs: 3_600_000 } }));
          const handles = await c.submitBatch(items);
          handles.forEach((h, i) => made.push({ id: h.id, task: items[i]?.task ?? "", queue: items[i]?.options.queue ?? "" }));
        }
      }),
    );
    const all = newestFirst(made.map((m) => m.id));
    for (const pageSize of [1, 7, 50, 1000]) {
      const { runs } = await listAll([c1, c2], { pageSize });
      assert.deepEqual(
        runs.map((r) => r.id),
        all,
        `page size ${pageSize}`,
      );
    }
    const t = tasks[1] as string;
    assert.deepEqual((await listAll([c2, c1], { task: t, pageSize: 9 })).runs.map((r) => r.id), newestFirst(made.filter((m) => m.task === t).map((m) => m.id)));
    assert.deepEqual((await listAll([c1], { queue: "bulk", pageSize: 11 })).runs.map((r) => r.id), newestFirst(made.filter((m) => m.queue === "bulk").map((m) => m.id)));
    assert.deepEqual(
      (await listAll([c1], { queue: "bulk", task: t, pageSize: 4 })).runs.map((r) => r.id),
      newestFirst(made.filter((m) => m.queue === "bulk" && m.task === t).map((m) => m.id)),
    );
    const t0 = performance.now();
    const none = await c1.listRuns({ task: uniq("nothing"), pageSize: 50 });
    assert.deepEqual([none.runs.length, none.nextPageToken], [0, ""]);
    assert.ok(performance.now() - t0 < 1_000);
  });

  it("keeps namespaces apart, also for the same task name", async function () {
    const [na, nb] = [uniq("team-a"), uniq("team-b")];
    const [a, b] = [await client(b1, na), await client(b2, nb)];
    const shared = uniq("shared");
    const ra = await a.submitBatch(Array.from({ length: 30 }, (_, i) => ({ task: shared, args: [i], options: { delayMs: 3_600_000 } })));
    const rb = await b.submitBatch(Array.from({ length: 20 }, (_, i) => ({ task: shared, args: [i], options: { delayMs: 3_600_000 } })));
    assert.deepEqual((await listAll([a], { pageSize: 7 })).runs.map((r) => r.id), newestFirst(ra.map((h) => h.id)));
    assert.deepEqual((await listAll([b], { task: shared, pageSize: 7 })).runs.map((r) => r.id), newestFirst(rb.map((h) => h.id)));
    const other = await client(b1, uniq("nobody"));
    assert.equal((await other.listRuns({ pageSize: 100 })).runs.length, 0);
    // A token made in one namespace lists nothing of it in another.
    const page = await a.listRuns({ pageSize: 5 });
    assert.ok(page.nextPageToken);
    const seen = await b.listRuns({ pageSize: 100, pageToken: page.nextPageToken });
    assert.ok(seen.runs.every((r) => rb.some((h) => h.id === r.id)));
  });

  it("does not show runs created while paging, and misses none of the older ones", async function () {
    const ns = uniq("ns");
    const c = await client(b1, ns);
    const t = uniq("paging");
    const before = await c.submitBatch(Array.from({ length: 60 }, (_, i) => ({ task: t, args: [i], options: { delayMs: 3_600_000 } })));
    const first = await c.listRuns({ pageSize: 10 });
    const during = await c.submitBatch(Array.from({ length: 25 }, (_, i) => ({ task: t, args: [i], options: { delayMs: 3_600_000 } })));
    const rest = await listAll([c], { pageSize: 10 }, first.nextPageToken);
    const listed = [...first.runs.map((r) => r.id), ...rest.runs.map((r) => r.id)];
    assert.deepEqual(listed, newestFirst(before.map((h) => h.id)));
    assert.ok(!listed.some((id) => during.some((h) => h.id === id)));
    // A fresh listing shows them first.
    const fresh = await c.listRuns({ pageSize: 25 });
    assert.deepEqual(fresh.runs.map((r) => r.id), newestFirst(during.map((h) => h.id)));
  });

  it("filters by state with a bounded read per call, and finds every match across calls", async function () {
    const ns = uniq("ns");
    const c = await client(b1, ns);
    const good = await c.submitBatch(Array.from({ length: 300 }, (_, i) => ({ task: ok.taskName, args: [i] })));
    const failing = await c.submitBatch(Array.from({ length: 6 }, (_, i) => ({ task: bad.taskName, args: [i] })));
    const more = await c.submitBatch(Array.from({ length: 300 }, (_, i) => ({ task: ok.taskName, args: [i] })));
    await Promise.all([...good, ...failing, ...more].map((h) => h.wait({ timeoutMs: 60_000 })));
    const { runs, pages } = await listAll([c], { states: [RunState.RUN_STATE_FAILED], pageSize: 50 });
    assert.deepEqual(
      runs.map((r) => r.id),
      newestFirst(failing.map((h) => h.id)),
    );
    assert.ok(pages > 2, `a budget of 100 reads per call over 606 runs takes several calls (took ${pages})`);
    const completed = await listAll([c], { states: [RunState.RUN_STATE_COMPLETED], task: ok.taskName, pageSize: 200 });
    assert.equal(completed.runs.length, 600);
    assert.ok(completed.runs.every((r) => r.state === RunState.RUN_STATE_COMPLETED));
    // Nothing queued or running: answered at once, no scan.
    const idle = await c.listRuns({ states: [RunState.RUN_STATE_RUNNING, RunState.RUN_STATE_PENDING], pageSize: 50 });
    assert.deepEqual([idle.runs.length, idle.nextPageToken], [0, ""]);
  });

  it("takes a run id as page token (the older runs); refuses a token that is neither", async function () {
    const c = await client(b2, uniq("ns"));
    const t = uniq("tok");
    const hs = await c.submitBatch(Array.from({ length: 30 }, (_, i) => ({ task: t, args: [i], options: { delayMs: 3_600_000 } })));
    const ids = newestFirst(hs.map((h) => h.id));
    const { runs } = await listAll([c], { pageSize: 8 }, ids[9]);
    assert.deepEqual(
      runs.map((r) => r.id),
      ids.slice(10),
    );
    await assert.rejects(c.listRuns({ pageToken: "not-a-token" }), (e: unknown) => e instanceof TaskwireError && e.code === Status.INVALID_ARGUMENT && /page_token/.test(e.message));
  });

  it("fails a Submit whose index write fails, like a failed publish; a retry with its key lists it", async function () {
    this.timeout(60_000);
    const c = await client(b1, uniq("ns"));
    const t = uniq("noindex");
    const config = (await jsm.streams.info(INDEX_STREAM)).config as StreamConfig;
    await jsm.streams.delete(INDEX_STREAM);
    let restored = false;
    try {
      await assert.rejects(c.submit(t, [1], { idempotencyKey: "k1", delayMs: 3_600_000 }), (e: unknown) => e instanceof TaskwireError && e.code === Status.UNAVAILABLE);
      await assert.rejects(c.listRuns({ task: t }), (e: unknown) => e instanceof TaskwireError && e.code === Status.FAILED_PRECONDITION && /TASKWIRE_INDEX/.test(e.message));
      await jsm.streams.add(config);
      restored = true;
      const run = await c.submit(t, [1], { idempotencyKey: "k1", delayMs: 3_600_000 });
      const listed = await c.listRuns({ task: t, pageSize: 10 });
      assert.deepEqual(
        listed.runs.map((r) => r.id),
        [run.id],
      );
    } finally {
      if (!restored) await jsm.streams.add(config);
    }
  });
});
