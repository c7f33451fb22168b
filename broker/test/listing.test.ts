import assert from "node:assert/strict";
import { encodeRun, RunState, TaskRun } from "@taskwire/protocol";
import { indexSubject, runIdTime } from "@taskwire/core";
import { encodeListCursor, MAX_PINNED, parsePageToken } from "../src/listing/cursor.js";
import { type IndexEntry, LATE_INDEX_MS, type ListFilter, type ListingSource, listPage, type ScanLimits, subjectMatches } from "../src/listing/scan.js";

/** A small deterministic PRNG (mulberry32), so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A UUIDv7 of millisecond `ms` (the rest random). */
function runId(ms: number, rand: () => number): string {
  const hex = (n: number, len: number): string => n.toString(16).padStart(len, "0");
  const t = hex(ms, 12);
  const r = (bits: number): number => Math.floor(rand() * 2 ** bits);
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${hex(r(12), 3)}-${hex(8 + r(2), 1)}${hex(r(12), 3)}-${hex(r(24), 6)}${hex(r(24), 6)}`;
}

interface FakeRun {
  id: string;
  namespace: string;
  queue: string;
  task: string;
  state: RunState;
}

/** The run index and records in memory, counting reads. */
class FakeSource implements ListingSource {
  readonly entries: IndexEntry[] = [];
  readonly records = new Map<string, Uint8Array>();
  reads = 0;
  first = 1;

  add(run: FakeRun, storedAt: number): void {
    const seq = this.first + this.entries.length;
    this.entries.push({ seq, subject: indexSubject(run.namespace, run.queue, run.task), storedAt, id: run.id });
    this.records.set(run.id, encodeRun(TaskRun.fromPartial({ id: run.id, task: run.task, queue: run.queue, namespace: run.namespace, state: run.state })));
  }

  async span(subject: string): Promise<{ first: number; last: number; count: number }> {
    const count = this.entries.filter((e) => subjectMatches(subject, e.subject)).length;
    return { first: this.first, last: this.first + this.entries.length - 1, count };
  }

  async at(seq: number, subject?: string): Promise<IndexEntry | undefined> {
    this.reads++;
    for (let i = Math.max(0, seq - this.first); i < this.entries.length; i++) {
      const e = this.entries[i];
      if (e && (!subject || subjectMatches(subject, e.subject))) return e;
    }
    return undefined;
  }

  async record(id: string): Promise<{ data: Uint8Array; revision: number } | undefined> {
    this.reads++;
    const data = this.records.get(id);
    return data && { data, revision: 1 };
  }
}

const STATES = [RunState.RUN_STATE_PENDING, RunState.RUN_STATE_RUNNING, RunState.RUN_STATE_COMPLETED, RunState.RUN_STATE_COMPLETED, RunState.RUN_STATE_COMPLETED, RunState.RUN_STATE_FAILED, RunState.RUN_STATE_CANCELLED];

interface World {
  src: FakeSource;
  runs: FakeRun[];
}

/**
 * `n` runs, stored in the order their index messages arrived: each id is
 * made `lag` ms before its message is stored (sometimes much longer, as a
 * slow Submit), by a broker whose clock may run `ahead` ms ahead of the
 * server's.
 */
function world(seed: number, n: number, opts: { ahead?: number; longLags?: boolean; veryLate?: boolean } = {}): World {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const made: Array<{ run: FakeRun; storedAt: number }> = [];
  let t = 1_800_000_000_000;
  for (let i = 0; i < n; i++) {
    t += Math.floor(rand() * 4); // several runs per millisecond at times
    const ahead = opts.ahead ? Math.floor(rand() * opts.ahead) : 0;
    let lag = opts.longLags && rand() < 0.05 ? Math.floor(rand() * 900) : Math.floor(rand() * 6);
    // Now and then a run indexed long after its id (its first index write lost, a retry indexed it).
    if (opts.veryLate && rand() < 0.02) lag = 2_000 + Math.floor(rand() * 20_000);
    const run: FakeRun = { id: runId(t + ahead, rand), namespace: pick(["default", "default", "other"]), queue: pick(["default", "bulk"]), task: pick(["a", "b", "b", "c"]), state: pick(STATES) };
    made.push({ run, storedAt: t + lag });
  }
  made.sort((x, y) => x.storedAt - y.storedAt);
  const src = new FakeSource();
  for (const m of made) src.add(m.run, m.storedAt);
  return { src, runs: made.map((m) => m.run) };
}

function expected(w: World, namespace: string, f: ListFilter): string[] {
  return w.runs
    .filter((r) => r.namespace === namespace && (!f.task || r.task === f.task) && (!f.queue || r.queue === f.queue) && (f.states.length === 0 || f.states.includes(r.state)))
    .map((r) => r.id)
    .sort()
    .reverse();
}

/** Every page until the last; also the most reads one call made. */
async function pageAll(src: FakeSource, limits: ScanLimits, namespace: string, f: ListFilter, pageSize: number, token = ""): Promise<{ ids: string[]; pages: number; maxReads: number }> {
  const ids: string[] = [];
  let pages = 0;
  let maxReads = 0;
  do {
    const before = src.reads;
    const page = await listPage(src, limits, namespace, f, pageSize, token);
    maxReads = Math.max(maxReads, src.reads - before);
    assert.ok(page.runs.length <= pageSize);
    ids.push(...page.runs.map((r) => r.id));
    assert.ok(!page.next || page.next !== token || page.runs.length > 0, `a call that lists nothing still moves on (${token}, ${JSON.stringify(f)} ${namespace} ${pageSize} ${pages})`);
    token = page.next;
    pages++;
    assert.ok(pages < 10_000, "paging ends");
  } while (token);
  return { ids, pages, maxReads };
}

const FILTERS: ListFilter[] = [
  { task: "", queue: "", states: [] },
  { task: "b", queue: "", states: [] },
  { task: "", queue: "bulk", states: [] },
  { task: "c", queue: "default", states: [] },
  { task: "", queue: "", states: [RunState.RUN_STATE_FAILED] },
  { task: "a", queue: "", states: [RunState.RUN_STATE_PENDING, RunState.RUN_STATE_RUNNING] },
  { task: "nope", queue: "", states: [] },
];

describe("run listing (the run index, scan.ts)", function () {
  const exact: ScanLimits = { scanLimit: 2_000, clockSkewMs: 0 };

  it("lists every matching run once, newest first by id, across pages of any size", async function () {
    for (let seed = 1; seed <= 12; seed++) {
      const w = world(seed, 400);
      for (const f of FILTERS) {
        for (const ns of ["default", "other"]) {
          const pageSize = [1, 3, 7, 50, 1000][seed % 5] ?? 7;
          const { ids } = await pageAll(w.src, exact, ns, f, pageSize);
          assert.deepEqual(ids, expected(w, ns, f), `seed ${seed}, ${ns}, ${JSON.stringify(f)}, page size ${pageSize}`);
        }
      }
    }
  });

  it("keeps exact order when Submits were slow (ids stored long after they were made)", async function () {
    for (let seed = 100; seed < 106; seed++) {
      const w = world(seed, 500, { longLags: true });
      for (const f of FILTERS.slice(0, 5)) {
        const { ids } = await pageAll(w.src, exact, "default", f, 10);
        assert.deepEqual(ids, expected(w, "default", f), `seed ${seed}, ${JSON.stringify(f)}`);
      }
    }
  });

  it("with brokers' clocks ahead of the server: exact within the configured skew; beyond it, out of order but none lost or twice", async function () {
    for (let seed = 200; seed < 206; seed++) {
      const w = world(seed, 500, { ahead: 20 });
      const f = FILTERS[0] as ListFilter;
      const tolerant = await pageAll(w.src, { scanLimit: 2_000, clockSkewMs: 20 }, "default", f, 10);
      assert.deepEqual(tolerant.ids, expected(w, "default", f), `seed ${seed}`);
      const strict = await pageAll(w.src, exact, "default", f, 10);
      assert.equal(new Set(strict.ids).size, strict.ids.length, "no run twice");
      assert.deepEqual([...strict.ids].sort().reverse(), expected(w, "default", f), "every run once");
    }
  });

  it("never lists a run twice or skips one, whatever the clocks, lags, filters, page sizes and read budgets", async function () {
    this.timeout(120_000);
    // LISTING_SEEDS=3300 runs 3,000 worlds instead of 120.
    for (let seed = 300; seed < Number(process.env.LISTING_SEEDS ?? 420); seed++) {
      const rand = rng(seed);
      const w = world(seed, 150 + Math.floor(rand() * 250), { ahead: [0, 5, 50, 400][seed % 4], longLags: seed % 3 === 0, veryLate: seed % 5 === 1 });
      const f = FILTERS[seed % FILTERS.length] as ListFilter;
      const ns = seed % 5 === 0 ? "other" : "default";
      const limits: ScanLimits = { scanLimit: [20, 60, 2_000][seed % 3] ?? 60, clockSkewMs: [0, 10][seed % 2] ?? 0 };
      const pageSize = [1, 2, 3, 5, 13, 50][seed % 6] ?? 3;
      const { ids } = await pageAll(w.src, limits, ns, f, pageSize);
      const want = expected(w, ns, f);
      assert.equal(new Set(ids).size, ids.length, `seed ${seed}: a run listed twice`);
      assert.deepEqual([...ids].sort().reverse(), want, `seed ${seed}: not every run listed`);
    }
  });

  it("bounds what a call reads for a state filter, and answers with a token to go on", async function () {
    const w = world(7, 3_000);
    const f: ListFilter = { task: "", queue: "", states: [RunState.RUN_STATE_CANCELLED] };
    const limits: ScanLimits = { scanLimit: 100, clockSkewMs: 0 };
    const { ids, pages, maxReads } = await pageAll(w.src, limits, "default", f, 50);
    assert.deepEqual(ids, expected(w, "default", f));
    assert.ok(pages > 3, `pages ${pages}`);
    // The budget, plus one batch in flight and the page itself.
    assert.ok(maxReads <= limits.scanLimit + 2 * 64 + 50 + 1, `a call read ${maxReads}`);
  });

  it("answers an empty filter without reading the index", async function () {
    const w = world(3, 1_000);
    w.src.reads = 0;
    const page = await listPage(w.src, exact, "default", { task: "nope", queue: "", states: [] }, 50, "");
    assert.deepEqual(page, { runs: [], next: "" });
    assert.equal(w.src.reads, 0);
    const ns = await listPage(w.src, exact, "nobody", { task: "", queue: "", states: [] }, 50, "");
    assert.deepEqual(ns, { runs: [], next: "" });
  });

  it("reads about a page for the first page, however many runs are retained", async function () {
    const w = world(4, 20_000);
    w.src.reads = 0;
    const page = await listPage(w.src, exact, "default", { task: "", queue: "", states: [] }, 50, "");
    assert.equal(page.runs.length, 50);
    assert.ok(w.src.reads < 400, `read ${w.src.reads}`);
    w.src.reads = 0;
    const sparse = await listPage(w.src, exact, "other", { task: "c", queue: "bulk", states: [] }, 50, "");
    assert.equal(sparse.runs.length, 50);
    assert.ok(w.src.reads < 1_000, `read ${w.src.reads}`);
  });

  it("lists a run indexed long after its id where it was stored, without reading more for it", async function () {
    const w = world(21, 3_000);
    // Three runs whose first index write was lost and that a retry indexed a minute later.
    const rand = rng(2);
    const last = w.src.entries.at(-1)?.storedAt ?? 0;
    const late: FakeRun[] = [0, 1, 2].map((i) => ({ id: runId(last - 60_000 - i, rand), namespace: "default", queue: "default", task: "a", state: RunState.RUN_STATE_COMPLETED }));
    for (const r of late) {
      w.src.add(r, last + 5);
      w.runs.push(r);
    }
    const f: ListFilter = { task: "", queue: "", states: [] };
    const { ids, maxReads } = await pageAll(w.src, exact, "default", f, 20);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort().reverse(), expected(w, "default", f));
    // Listed among the runs made LATE_INDEX_MS before they were stored, not a minute back.
    const lateIds = new Set(late.map((r) => r.id));
    for (const r of late) {
      const next = ids.slice(ids.indexOf(r.id)).find((id) => !lateIds.has(id)) ?? "";
      assert.ok(Math.abs(runIdTime(next) - (last + 5 - LATE_INDEX_MS)) < 20, `listed where they were stored (${ids.indexOf(r.id)}: next ${runIdTime(next) - last})`);
    }
    assert.ok(maxReads < 200, `a call read ${maxReads}`);
  });

  it("reads about a page per call after a run id token too", async function () {
    const w = world(22, 20_000);
    const f: ListFilter = { task: "", queue: "", states: [] };
    const all = expected(w, "default", f);
    let token = all[5_000] ?? "";
    for (let i = 0; i < 5; i++) {
      w.src.reads = 0;
      const page = await listPage(w.src, exact, "default", f, 50, token);
      assert.deepEqual(
        page.runs.map((r) => r.id),
        all.slice(5_001 + i * 50, 5_051 + i * 50),
      );
      assert.ok(w.src.reads < 2_500, `call ${i} read ${w.src.reads}`);
      token = page.next;
    }
  });

  it("takes a run id as page token: the runs with smaller ids", async function () {
    const w = world(9, 600);
    const all = expected(w, "default", { task: "", queue: "", states: [] });
    for (const at of [0, 1, 17, 300, all.length - 2]) {
      const token = all[at] ?? "";
      const { ids } = await pageAll(w.src, exact, "default", { task: "", queue: "", states: [] }, 25, token);
      assert.deepEqual(ids, all.slice(at + 1), `below #${at}`);
    }
  });

  it("does not show runs created while paging, and loses none of the older ones", async function () {
    const w = world(11, 300);
    const f: ListFilter = { task: "", queue: "", states: [] };
    const before = expected(w, "default", f);
    const first = await listPage(w.src, exact, "default", f, 20, "");
    const rand = rng(5);
    let t = 1_900_000_000_000;
    for (let i = 0; i < 100; i++) w.src.add({ id: runId(++t, rand), namespace: "default", queue: "default", task: "a", state: RunState.RUN_STATE_PENDING }, t);
    const rest = await pageAll(w.src, exact, "default", f, 20, first.next);
    assert.deepEqual([...first.runs.map((r) => r.id), ...rest.ids], before);
  });

  it("skips index entries whose record is gone, and runs of the index's aged-out start", async function () {
    const w = world(13, 300);
    const f: ListFilter = { task: "", queue: "", states: [] };
    const all = expected(w, "default", f);
    const gone = new Set(all.filter((_, i) => i % 3 === 0));
    for (const id of gone) w.src.records.delete(id);
    const { ids } = await pageAll(w.src, exact, "default", f, 10);
    assert.deepEqual(ids, all.filter((id) => !gone.has(id)));
  });

  it("holds a forged token to a bounded read", async function () {
    const w = world(23, 20_000);
    const f: ListFilter = { task: "", queue: "", states: [] };
    w.src.reads = 0;
    const page = await listPage(w.src, exact, "default", f, 50, encodeListCursor({ below: "", top: 1e12, floor: 0, from: 0, pinned: [1, 2, 3] }));
    assert.ok(page.runs.length <= 50);
    assert.ok(w.src.reads < 2 * (exact.scanLimit + 1_024) + 500, `read ${w.src.reads}`);
  });

  it("encodes and parses page tokens; refuses anything else", function () {
    const rand = rng(1);
    const id = runId(1_800_000_000_000, rand);
    const c = { below: id, top: 123_456_789, floor: 42, from: 50, pinned: [] };
    assert.deepEqual(parsePageToken(encodeListCursor(c)), c);
    const pinned = { below: "", top: 5, floor: 6, from: 6, pinned: Array.from({ length: MAX_PINNED }, (_, i) => 1_000_000 + i) };
    assert.deepEqual(parsePageToken(encodeListCursor(pinned)), pinned);
    assert.equal(parsePageToken(encodeListCursor({ ...pinned, pinned: [...pinned.pinned, 7] })), undefined, "too many pinned");
    assert.deepEqual(parsePageToken(id), { runId: id });
    for (const bad of ["x", `${id}.`, `${id}.1`, `${id}.1.2`, `${id}.1.2.3.4.`, `${id}.-1.2.3`, `${id.toUpperCase()}.1.2.3`, "00000000-0000-4000-8000-000000000000.1.2.3"]) assert.equal(parsePageToken(bad), undefined, bad);
  });
});
