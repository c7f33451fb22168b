import { DEFAULT_QUEUE, indexFilter, namespaceOf, runIdTime } from "@taskwire/core";
import { decodeRun, type RunState, type TaskRun } from "@taskwire/protocol";
import { peekState } from "../reconciler.js";
import { encodeListCursor, type ListCursor, MAX_PINNED, parsePageToken } from "./cursor.js";

/** ListRuns filters (the caller's namespace comes on its own). */
export interface ListFilter {
  task: string;
  queue: string;
  states: readonly RunState[];
}

export interface ListPage {
  /** Newest first (by run id). */
  runs: TaskRun[];
  /** The token of the next page; "" when nothing is left. */
  next: string;
}

/** One message of the run index. */
export interface IndexEntry {
  seq: number;
  subject: string;
  /** When the stream stored it: ms since the epoch, nats-server's clock. */
  storedAt: number;
  /** The run it indexes. */
  id: string;
}

/**
 * What a listing reads: the run index and the records. NATS in the broker
 * (nats-source.ts); an array in the unit tests.
 */
export interface ListingSource {
  /** The index's first and last sequence, and how many messages match `subject` (a filter with `*`). */
  span(subject: string): Promise<{ first: number; last: number; count: number }>;
  /** The first index message at or after `seq`; with `subject`, the first one on that filter. */
  at(seq: number, subject?: string): Promise<IndexEntry | undefined>;
  /** A run's current record, encoded, with its revision; undefined when there is none (aged out, never written). */
  record(id: string): Promise<{ data: Uint8Array; revision: number } | undefined>;
  /**
   * True when no run can be in any of `f.states` (for the states whose runs
   * all hold a message in a work queue: queued, running, waiting for a
   * retry, scheduled): an empty answer without a scan. False means maybe.
   */
  noneIn?(f: ListFilter): Promise<boolean>;
}

export interface ScanLimits {
  /**
   * Reads one call may spend on what it does not list (index messages,
   * records that the states filter leaves out or that no longer exist);
   * then it answers with what it found and a token to go on.
   */
  scanLimit: number;
  /** How far a broker's clock may be ahead of nats-server's, in ms (the order of the listing relies on it). */
  clockSkewMs: number;
}

/** Record reads, and next-by-subject walks, in flight at once. */
const PARALLEL = 64;
/** Index reads by sequence in flight at once (small answers). */
const PARALLEL_SEQ = 256;
/** The largest read of one step, in index messages. */
const MAX_CHUNK = 1_024;
/** Below this share of the stream, a filter's messages are found with next-by-subject walks rather than read one sequence at a time. */
const DENSE = 0.5;
const MIN_DENSITY = 1e-9;
/**
 * A run whose index message was stored more than this after its id's time
 * (a Submit retried with its idempotency key after its first index write
 * was lost) is listed where it was stored, as if its id were this much
 * older than that: one late message then costs no more reading than any
 * other, and its run comes a little out of id order (ms).
 */
export const LATE_INDEX_MS = 2_000;

const EMPTY: ListPage = { runs: [], next: "" };

/** Whether an index subject matches a filter of literal tokens and `*`. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  return f.length === s.length && f.every((t, i) => t === "*" || t === s[i]);
}

/**
 * One page of ListRuns: the runs of `namespace` matching `f`, newest first,
 * after `token`.
 *
 * The index holds one message per created run, in the order the stream
 * stored them. A run's id (UUIDv7) is made by its broker a moment before
 * its message is stored, so the index is in id order except where two
 * Submits overlapped. To list by id exactly, the page reads backwards and
 * lists a run only when every message not yet read must hold a smaller id:
 * those were stored before the lowest message read, so their ids are at
 * most its time (plus the clock skew allowed or seen: a run whose id is
 * ahead of its message's time shows its broker's clock ahead). Runs read
 * but not yet certain stay for the next step or the next page; the cursor
 * says which (cursor.ts), so no run is listed twice or skipped, and a run
 * whose broker's clock was off by more than the skew is listed a little
 * out of order rather than lost.
 *
 * Filters on namespace, queue and task are subjects of the index, so the
 * server finds their messages; a state filter reads each candidate's
 * record (its state field only), bounded by `limits.scanLimit` per call.
 */
export async function listPage(src: ListingSource, limits: ScanLimits, namespace: string, f: ListFilter, pageSize: number, token: string): Promise<ListPage> {
  const subject = indexFilter(namespace, f.queue, f.task);
  const span = await src.span(subject);
  if (span.count === 0 || span.last < span.first) return EMPTY;
  if (f.states.length > 0 && src.noneIn && (await src.noneIn(f))) return EMPTY;
  const parsed = token ? parsePageToken(token) : undefined;
  let cursor: ListCursor;
  if (!parsed) cursor = { below: "", top: span.last, floor: span.last + 1, from: span.last + 1, pinned: [] };
  else if ("runId" in parsed) {
    // A run id: the runs with smaller keys, stored at the latest
    // LATE_INDEX_MS after that id's time (plus the skew); the key filter
    // applies everywhere, as nothing says which runs the caller has seen.
    const top = await seek(src, subject, span, runIdTime(parsed.runId) + limits.clockSkewMs + LATE_INDEX_MS);
    cursor = { below: parsed.runId, top, floor: 0, from: top + 1, pinned: [] };
  } else cursor = parsed;
  return new Scan(src, limits, namespace, f, subject, pageSize, span, cursor).run();
}

/** The highest sequence of a message on `subject` stored at or before `time` (first − 1 when none). */
async function seek(src: ListingSource, subject: string, span: { first: number; last: number }, time: number): Promise<number> {
  let lo = span.first - 1;
  let hi = span.last;
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    const e = await src.at(mid, subject);
    if (e && e.seq <= hi && e.storedAt <= time) lo = e.seq;
    else hi = mid - 1;
  }
  return lo;
}

/** The 48-bit millisecond prefix of a UUIDv7 ("xxxxxxxx-xxxx"). */
function timePrefix(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}`;
}

/**
 * Where a run is listed: its id, or for a run indexed more than
 * LATE_INDEX_MS after its id's time, its id with the time part moved to
 * that long before the message was stored (unique still: the rest is the
 * id's). Keys order the listing and the cursor's `below`.
 */
export function listKey(e: Pick<IndexEntry, "id" | "storedAt">): string {
  if (e.storedAt - runIdTime(e.id) <= LATE_INDEX_MS) return e.id;
  return `${timePrefix(e.storedAt - LATE_INDEX_MS)}${e.id.slice(13)}`;
}

interface Candidate {
  id: string;
  /** listKey(): the order of the listing. */
  key: string;
  seq: number;
}

const byKeyDesc = (a: Candidate, b: Candidate): number => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0);

/**
 * One call's walk down the index.
 *
 * It looks at candidates (runs read from the index) in decreasing id order,
 * each once it is certain that no message not yet read holds a larger id.
 * The cursor it hands out describes what has been looked at: every run at
 * or above `floor` with an id of at least `below`, and nothing under
 * `floor`. Two rules keep that description exact when a broker's clock
 * was off by more than the allowed skew:
 * - a call first reads again all of the region an earlier page read
 *   (`floor`…`top`), so what it reads later lies under `floor`;
 * - a run read later with a larger id than one already looked at (a
 *   "late" run) is looked at next, late runs by decreasing sequence, and
 *   the page ends there; late runs left over go under the new `floor`.
 * Late runs are then listed out of id order, but once.
 */
class Scan {
  readonly #out: TaskRun[] = [];
  /** Runs read from the index and not yet looked at, by id. */
  readonly #candidates = new Map<string, Candidate>();
  /** Runs looked at by this call (a run indexed twice is looked at once). */
  readonly #seen = new Set<string>();
  readonly #states: ReadonlySet<number>;
  /** The next sequence to read, going down. */
  #pos: number;
  /** The lowest sequence read. */
  #readFrom: number;
  /** When the message at #readFrom was stored: every message below it was stored no later. */
  #lowStamp = Infinity;
  /** The smallest id looked at in order, or the cursor's: every candidate below it is smaller. */
  #bound: string;
  /** The most a read run's id was ahead of the time its index message was stored, in ms: its broker's clock was ahead by at least that. */
  #ahead = 0;
  /** The floor of the next page when late runs are left over. */
  #lateFloor: number | undefined;
  /** Reads spent, but for the records listed: index reads, records left out or missing. */
  #waste = 0;
  #density: number;
  #chunk: number;

  constructor(
    readonly src: ListingSource,
    readonly limits: ScanLimits,
    readonly namespace: string,
    readonly f: ListFilter,
    readonly subject: string,
    readonly pageSize: number,
    readonly span: { first: number; last: number; count: number },
    readonly cursor: ListCursor,
  ) {
    this.#states = new Set<number>(f.states);
    this.#pos = Math.min(cursor.top, span.last);
    this.#readFrom = this.#pos + 1;
    this.#bound = cursor.below;
    this.#density = Math.max(MIN_DENSITY, span.count / Math.max(1, span.last - span.first + 1));
    // A little more than a page: the last runs read wait for the reads below them.
    this.#chunk = Math.min(MAX_CHUNK, f.states.length > 0 ? Math.max(2 * pageSize, PARALLEL) : pageSize + 8);
  }

  get #spent(): boolean {
    return this.#waste >= this.limits.scanLimit;
  }

  async run(): Promise<ListPage> {
    // What an earlier page read and left: read all of it before looking at
    // any. It is no more than that page read; a token claiming more was
    // not made here, and is held to that much.
    const from = Math.max(this.span.first, this.cursor.from, this.#pos - 2 * (this.limits.scanLimit + MAX_CHUNK) + 1);
    const pinned = this.cursor.pinned.filter((q) => q > this.#pos && q <= this.span.last);
    // A pinned sequence whose message expired answers the next one: kept only when it is the one asked for.
    const readPinned = Promise.all(pinned.map((q) => this.src.at(q).then((e) => (e?.seq === q ? e : undefined))));
    const readRegion = async (): Promise<void> => {
      while (this.#pos >= from) await this.#read(this.#pos - from + 1);
    };
    const [again] = await Promise.all([readPinned, readRegion()]);
    this.#waste += pinned.length;
    for (const e of again) if (e && subjectMatches(this.subject, e.subject)) this.#add(e);
    while (this.#out.length < this.pageSize) {
      const ranked = this.#ranked();
      const late = this.#bound ? ranked.filter((c) => c.key >= this.#bound) : [];
      if (late.length > 0) {
        await this.#examineLate(late);
        break;
      }
      const exhausted = this.#pos < this.span.first;
      const threshold = exhausted ? -Infinity : this.#lowStamp + Math.max(this.limits.clockSkewMs, this.#ahead);
      let certain = 0;
      while (certain < ranked.length && runIdTime((ranked[certain] as Candidate).key) > threshold) certain++;
      if (certain > 0) {
        await this.#examine(ranked.slice(0, certain), false);
        if (this.#spent) break;
        continue;
      }
      if (exhausted) break;
      if (this.#spent) {
        // Out of reads with nothing certain (a clock far behind, or runs
        // indexed long after their id): look at what was read, in id
        // order, so that every call moves on.
        if (ranked.length > 0) await this.#examine(ranked, true);
        break;
      }
      // With a state filter each run read costs a record read too: keep half the budget for those.
      const left = this.limits.scanLimit - this.#waste;
      await this.#read(Math.max(16, Math.min(this.#chunk, this.#states.size > 0 ? Math.ceil(left / 2) : left)));
      this.#chunk = Math.min(MAX_CHUNK, this.#chunk * 2);
    }
    return { runs: this.#out, next: this.#nextToken() };
  }

  /** Candidates, largest id first. */
  #ranked(): Candidate[] {
    return [...this.#candidates.values()].sort(byKeyDesc);
  }

  /**
   * Looks at candidates in id order (reads their records), listing those
   * the filter takes, until the page is full, the candidates run out, or
   * (not `forced`) the read budget is spent. `forced` looks at one batch
   * whatever the budget.
   */
  async #examine(ranked: Candidate[], forced: boolean): Promise<void> {
    for (let i = 0; i < ranked.length && this.#out.length < this.pageSize; ) {
      // Without a state filter every existing record is listed: read no more than the page needs.
      const n = this.#states.size === 0 ? Math.min(PARALLEL, this.pageSize - this.#out.length) : PARALLEL;
      const batch = ranked.slice(i, i + n);
      i += batch.length;
      const looked = await this.#lookAt(batch);
      const last = batch[looked - 1];
      if (last) this.#bound = last.key;
      if (forced || this.#spent) return;
    }
  }

  /**
   * Late runs, by decreasing sequence, as many as the page takes; those
   * left over (the lowest sequences) go under the next page's floor, with
   * everything this call read below them.
   */
  async #examineLate(late: Candidate[]): Promise<void> {
    const bySeq = [...late].sort((a, b) => b.seq - a.seq);
    let i = 0;
    while (i < bySeq.length && this.#out.length < this.pageSize) {
      const batch = bySeq.slice(i, i + Math.min(PARALLEL, this.pageSize - this.#out.length));
      i += await this.#lookAt(batch);
    }
    const left = bySeq[i];
    if (left) this.#lateFloor = left.seq + 1;
  }

  /** Looks at `batch` in order until the page is full; returns how many were looked at. */
  async #lookAt(batch: Candidate[]): Promise<number> {
    const records = await Promise.all(batch.map((c) => this.src.record(c.id)));
    let k = 0;
    for (; k < batch.length && this.#out.length < this.pageSize; k++) {
      const c = batch[k] as Candidate;
      const r = records[k];
      this.#candidates.delete(c.id);
      this.#seen.add(c.id);
      const run = r && this.#take(r.data);
      if (run) {
        run.revision = r.revision;
        this.#out.push(run);
      } else this.#waste++;
    }
    return k;
  }

  /** The record as listed, or undefined when the filter leaves it out. */
  #take(data: Uint8Array): TaskRun | undefined {
    if (data.length === 0) return undefined;
    if (this.#states.size > 0 && !this.#states.has(peekState(data))) return undefined;
    const run = decodeRun(data);
    // The index subject names namespace, queue and task; the record has the last word.
    if (namespaceOf(run) !== this.namespace || (this.f.task && run.task !== this.f.task) || (this.f.queue && (run.queue || DEFAULT_QUEUE) !== this.f.queue)) return undefined;
    return run;
  }

  /** Reads about `want` more index messages on the filter, down from #pos. */
  async #read(want: number): Promise<void> {
    const avail = this.#pos - this.span.first + 1;
    const dense = this.#density >= DENSE;
    const width = Math.min(avail, dense ? want : Math.max(want, Math.ceil(want / this.#density)));
    const lo = this.#pos - width + 1;
    const hi = this.#pos;
    const [found, low] = await Promise.all([dense ? this.#readEach(lo, hi) : this.#walkStripes(lo, hi, Math.min(PARALLEL, want, width)), this.src.at(lo)]);
    this.#waste++; // the stamp
    if (low) this.#lowStamp = Math.min(this.#lowStamp, low.storedAt);
    for (const e of found) this.#add(e);
    this.#pos = lo - 1;
    this.#readFrom = lo;
    this.#density = found.length > 0 ? Math.max(MIN_DENSITY, found.length / width) : Math.max(MIN_DENSITY, this.#density / 8);
  }

  /** Every message in [lo, hi], kept when on the filter (for a filter that takes most of the index). */
  async #readEach(lo: number, hi: number): Promise<IndexEntry[]> {
    const out: IndexEntry[] = [];
    for (let s = hi; s >= lo; s -= PARALLEL_SEQ) {
      const seqs: number[] = [];
      for (let q = s; q > s - PARALLEL_SEQ && q >= lo; q--) seqs.push(q);
      // A sequence whose message expired or was removed answers the next one: kept only when it is the one asked for.
      const got = await Promise.all(seqs.map((q) => this.src.at(q).then((e) => (e && e.seq === q ? e : undefined))));
      this.#waste += seqs.length;
      for (const e of got) if (e && subjectMatches(this.subject, e.subject)) out.push(e);
    }
    return out;
  }

  /**
   * The filter's messages in [lo, hi]: `stripes` walks side by side, each
   * asking the server for the next message on the filter from the start of
   * its stripe until past its end, so a sparse filter costs about one
   * request per message found instead of one per sequence.
   */
  async #walkStripes(lo: number, hi: number, stripes: number): Promise<IndexEntry[]> {
    const len = Math.ceil((hi - lo + 1) / Math.max(1, stripes));
    const walks: Array<Promise<IndexEntry[]>> = [];
    for (let top = hi; top >= lo; top -= len) walks.push(this.#walk(Math.max(lo, top - len + 1), top));
    return (await Promise.all(walks)).flat();
  }

  async #walk(lo: number, hi: number): Promise<IndexEntry[]> {
    const out: IndexEntry[] = [];
    for (let seq = lo; seq <= hi; ) {
      const e = await this.src.at(seq, this.subject);
      this.#waste++;
      if (!e || e.seq > hi) break;
      out.push(e);
      seq = e.seq + 1;
    }
    return out;
  }

  #add(e: IndexEntry): void {
    this.#ahead = Math.max(this.#ahead, runIdTime(e.id) - e.storedAt);
    const c = this.cursor;
    // Looked at by an earlier page already.
    const key = listKey(e);
    if (c.below && e.seq >= c.floor && key >= c.below) return;
    if (!this.#seen.has(e.id) && !this.#candidates.has(e.id)) this.#candidates.set(e.id, { id: e.id, key, seq: e.seq });
  }

  #nextToken(): string {
    if (this.#pos < this.span.first && this.#candidates.size === 0) return "";
    const floor = this.#lateFloor ?? Math.min(this.cursor.floor, this.#readFrom);
    const from = this.#lateFloor ?? Math.min(this.cursor.from, this.#readFrom);
    // The next page reads from..top again: pin the few runs left far above
    // the others (a run indexed late waits for the runs made before it)
    // rather than read down all the way from them.
    const bySeq = [...this.#candidates.values()].map((c) => c.seq).sort((a, b) => b - a);
    let pins = 0;
    let best = Infinity;
    for (let j = 0; j <= Math.min(MAX_PINNED, bySeq.length); j++) {
      const cost = Math.max(this.#pos, bySeq[j] ?? this.#pos) - from + j;
      if (cost < best) {
        best = cost;
        pins = j;
      }
    }
    const top = Math.max(this.#pos, bySeq[pins] ?? this.#pos);
    const pinned = bySeq.slice(0, pins);
    if (top < this.span.first && pinned.length === 0) return "";
    return encodeListCursor({ below: this.#bound, top, floor, from, pinned });
  }
}
