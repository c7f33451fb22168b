import { DeliverPolicy, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { claim, type Effect, isTerminal, RunState, type Step, type TaskRun } from "@taskwire/protocol";
import {
  ALL_RECORDS_SUBJECT,
  type NatsHandle,
  priorityLevel,
  RUN_SUBJECT_PREFIX,
  RUNS_BUCKET_STREAM,
  RUNS_STREAM,
  RunStore,
  SCHEDULED_STREAM,
  scheduledSubject,
  taskConsumerName,
} from "@taskwire/core";
import type { Logger } from "pino";
import { Publisher } from "./publisher.js";

/** How often each broker looks for runs that nothing will move forward, in ms. */
export const RECONCILE_INTERVAL_MS = 2_000;
/** A record is looked at once it has not changed for this many heartbeat timeouts (the task consumer's ack_wait). */
export const RECONCILE_STALE_FACTOR = 3;
/** The heartbeat timeout assumed when a task's consumer cannot be read (the workers' default: 2 × 5 s), in ms. */
export const RECONCILE_DEFAULT_ACK_WAIT_MS = 10_000;
/**
 * Youngest PENDING/SCHEDULED record taken for stranded, in ms: longer than
 * a Submit may still be publishing its message (the wire's retries, 5 s).
 */
export const RECONCILE_QUEUED_MIN_AGE_MS = 10_000;
/** Records looked at (leader read, probe) per pass, oldest first. */
export const RECONCILE_MAX_CHECKS = 200;
/**
 * The soonest a RUNNING record can be stale, in ms after its revision: the
 * stale factor × the shortest heartbeat timeout a worker sets (2 × its
 * 100 ms minimum heartbeat interval). A new revision is not looked at
 * before this (RUNNING) or RECONCILE_QUEUED_MIN_AGE_MS (any other state),
 * which is when a pass could first act on it anyway.
 */
export const RECONCILE_RUNNING_MIN_WAIT_MS = RECONCILE_STALE_FACTOR * 2 * 100;
/** Runs put back in play per pass. */
export const RECONCILE_MAX_ACTIONS = 100;
/** Queued messages read per pass (one request each) to see which runs have one; a longer queue skips that check this pass. */
export const RECONCILE_MAX_SCAN = 10_000;
/**
 * How long one read of the run queue (which runs have a message) serves
 * later passes, in ms. While runs wait (workers down, a long queue) most
 * passes have candidates, and reading up to RECONCILE_MAX_SCAN messages one
 * request at a time each pass kept nats-server busy for as long as they
 * waited. A message gone since the read is a run whose record changed
 * (whoever settles a message writes the record first), which a pass reads
 * anyway; one lost meanwhile is found this much later, on top of the
 * 10–30 s a run must look stale first; one added meanwhile (the
 * reconciler's own) may be added again under the same message id, which
 * JetStream stores once.
 */
export const RECONCILE_QUEUE_READ_TTL_MS = 30_000;
/** How far back a starting broker reads the record history to find unfinished runs, in ms. */
export const RECONCILE_LOOKBACK_MS = 10 * 60_000;
/** Longest wait before a healthy-looking unfinished run (long task, long queue) is looked at again, in ms. */
export const RECONCILE_RECHECK_MAX_MS = 5 * 60_000;
/**
 * A record history follower that has not moved for this long while the
 * stream has newer revisions is closed and opened again where it stopped,
 * in ms. Its ordered consumer lives on one NATS node (R1) and, when that
 * node dies, nats.js does not always notice (measured: followers stalled
 * for good after a kill, so new runs were never looked at).
 */
export const RECONCILE_TAIL_STALL_MS = 5_000;
/** Crashed attempts a rescued RUNNING run may have had before it fails as WorkerCrashed (the workers' default). */
const MAX_CRASH_RETRIES = 10;

/** A decision to change nothing (the run moved on since it was seen). */
const nothing: Step = { effects: [] };

/**
 * How far the reconciler's time base may fall behind before the entries
 * are moved to a new one, in ms (~6 days): times relative to it stay small
 * integers (V8 Smis, ±2^30).
 */
export const REBASE_MS = 2 ** 29;

/**
 * What the reconciler remembers of an unfinished run: its latest revision
 * and when to look at it. With many runs queued the index is most of a
 * broker's live heap, so an entry is four small integers held in the object
 * itself: times are ms after the reconciler's time base (`#base`), not
 * since the epoch (which V8 would box as a heap number each), and the key
 * is the record's subject as the message gave it (a slice of it would keep
 * the subject alive anyway): ~180 bytes per run with the map's slot,
 * instead of ~240 (a heap snapshot with 100,000 runs queued).
 */
class Entry {
  constructor(
    public seq: number,
    /** When the revision was written (ms after the time base). */
    public at: number,
    /** When to look at it next (ms after the time base). */
    public due: number,
    /** The last wait between two looks, grown while the run looks healthy (ms). */
    public backoff = 0,
  ) {}
}

/** `ms` (since the epoch) as ms after `base`, clamped to ±REBASE_MS so it stays a small integer. */
export function relativeTime(ms: number, base: number): number {
  return Math.max(-REBASE_MS, Math.min(REBASE_MS, ms - base));
}

/**
 * Once `base` is REBASE_MS old at `now`, moves it to `now` and every
 * entry's times (relative to it) with it, clamped as `relativeTime` does;
 * returns the base in effect.
 */
export function rebaseTimes(entries: Iterable<{ at: number; due: number }>, base: number, now: number): number {
  const shift = now - base;
  if (shift < REBASE_MS) return base;
  for (const e of entries) {
    e.at = Math.max(-REBASE_MS, e.at - shift);
    e.due = Math.max(-REBASE_MS, e.due - shift);
  }
  return now;
}

/** What one pass did, for logs and tests. */
export interface ReconcileStats {
  passes: number;
  checked: number;
  /** RUNNING runs whose holder was gone and no message left: attempt recorded CRASHED, queued again. */
  requeuedRunning: number;
  /** PENDING / AWAITING_RETRY runs with no queued message: queued again. */
  requeuedQueued: number;
  /** SCHEDULED runs with no held message: handed to the scheduler again. */
  rescheduled: number;
  /** Times the record history follower was found stalled and reopened. */
  tailReopened: number;
}

/**
 * The `k` entries due soonest among those due by `dueBy`, soonest first,
 * and how many are due in all. One walk over the map (`forEach`: no
 * [key, value] pair made per entry) with a bounded max-heap of the `k`
 * soonest so far: O(n log k), allocating only for entries that enter the
 * heap. Collecting every due entry and sorting them all, as passes did
 * before, held a broker's event loop for ~1.2 s per pass (every 2 s) with
 * 500,000 runs queued.
 */
export function earliestDue<K, E extends { due: number }>(entries: ReadonlyMap<K, E>, dueBy: number, k: number): { earliest: Array<[K, E]>; due: number } {
  const heap: Array<[K, E]> = [];
  const at = (i: number): number => (heap[i] as [K, E])[1].due;
  const swap = (i: number, j: number): void => {
    const t = heap[i] as [K, E];
    heap[i] = heap[j] as [K, E];
    heap[j] = t;
  };
  let due = 0;
  entries.forEach((e, key) => {
    const d = e.due;
    if (d > dueBy) return;
    due++;
    if (heap.length < k) {
      heap.push([key, e]);
      for (let i = heap.length - 1; i > 0; ) {
        const p = (i - 1) >> 1;
        if (at(p) >= d) break;
        swap(i, p);
        i = p;
      }
    } else if (k > 0 && d < at(0)) {
      heap[0] = [key, e];
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        let top = i;
        if (l < heap.length && at(l) > at(top)) top = l;
        if (l + 1 < heap.length && at(l + 1) > at(top)) top = l + 1;
        if (top === i) break;
        swap(i, top);
        i = top;
      }
    }
  });
  heap.sort((a, b) => a[1].due - b[1].due);
  return { earliest: heap, due };
}

/** The `state` of an encoded TaskRun (field 3), read without decoding the rest; 0 when absent. */
export function peekState(data: Uint8Array): number {
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = data[i++] ?? 0;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80 || i >= data.length) return v;
      shift += 7;
    }
  };
  while (i < data.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 3 && wire === 0) return varint();
    if (wire === 0) varint();
    else if (wire === 2) {
      const len = varint(); // read before adding: varint() moves i
      i += len;
    }
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else return 0;
    if (field > 3) return 0;
  }
  return 0;
}

/**
 * Puts back in play the runs that nothing would move forward: the safety
 * net behind the workers' and brokers' own recovery when NATS loses a node
 * (a message acked from a stale delivery, a write whose answer was lost, a
 * broker gone between its record write and its publish).
 *
 * Every broker runs one; no leader is needed. Each follows the record
 * history (an ordered consumer on the runs bucket's stream) and keeps the
 * unfinished runs' latest revision. A pass takes those unchanged for
 * RECONCILE_STALE_FACTOR × the task's heartbeat timeout, reads them from the
 * stream leader, and:
 * - RUNNING whose worker does not hold it (asked over core NATS) and with
 *   no queued message: the lifecycle's `claim` records the lost attempt
 *   CRASHED (compare-and-set against the revision that was seen, so one
 *   broker does it) and the run is queued again;
 * - PENDING, or AWAITING_RETRY past its retry time, with no queued message;
 *   SCHEDULED with no held message: queued (or handed to the scheduler)
 *   again with message id `<run id>:reconcile:<revision>`, so brokers doing
 *   it at once store one message.
 * A run put back twice (a message nobody could see) is harmless: a worker's
 * claim skips finished runs and leaves a run to a holder that is alive.
 */
export class Reconciler {
  readonly stats: ReconcileStats = { passes: 0, checked: 0, requeuedRunning: 0, requeuedQueued: 0, rescheduled: 0, tailReopened: 0 };
  /** Unfinished runs by their record's subject (`$KV.<bucket>.<run id>`). */
  readonly #index = new Map<string, Entry>();
  /** The time base of the entries' times (ms since the epoch). */
  #base = Date.now();
  readonly #publisher: Publisher;
  readonly #ackWait = new Map<string, { ms: number; at: number }>();
  #tail: ConsumerMessages | undefined;
  /** The last read of the run queue (`#queuedRunIds`) and when it started. */
  #queueRead: { ids: Set<string> | undefined; at: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #passing = false;
  #stopped = false;
  #lastSeq = 0;
  /** The follower's position at the last stall check, and since when it has not moved. */
  #watch = { seq: 0, since: Date.now() };

  constructor(
    readonly nats: NatsHandle,
    readonly store: RunStore,
    readonly log: Logger,
    readonly workerId = "reconciler",
  ) {
    this.#publisher = new Publisher(nats);
  }

  /** Unfinished runs being followed (for tests and diagnostics). */
  get tracked(): number {
    return this.#index.size;
  }

  async start(): Promise<void> {
    await this.#reopen();
    this.#timer = setInterval(() => void this.pass(), RECONCILE_INTERVAL_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    const tail = this.#tail;
    this.#tail = undefined;
    await tail?.close().catch(() => undefined);
  }

  /** (Re)opens the record history follower where the last one stopped; the old one is closed without waiting for it. */
  async #reopen(): Promise<void> {
    const old = this.#tail;
    this.#tail = undefined;
    if (old) void old.close().catch(() => undefined);
    const tail = await this.#openTail();
    if (this.#stopped) {
      await tail.close().catch(() => undefined);
      return;
    }
    this.#tail = tail;
    void this.#follow(tail);
  }

  #openTail(): Promise<ConsumerMessages> {
    this.#watch = { seq: this.#lastSeq, since: Date.now() };
    const from = this.#lastSeq > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#lastSeq + 1 } : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(Date.now() - RECONCILE_LOOKBACK_MS).toISOString() };
    return this.nats.js.consumers.get(RUNS_BUCKET_STREAM, { filter_subjects: ALL_RECORDS_SUBJECT, ...from }).then((c) => c.consume({ expires: 5_000, callback: (m) => this.#saw(m) }));
  }

  /**
   * Waits while `tail` follows every revision of every record (its callback
   * hands each to #saw, with no promise per revision as an async iterator
   * makes); opens a new follower if it ends by itself.
   */
  async #follow(tail: ConsumerMessages): Promise<void> {
    const err = await tail.closed().catch((e: unknown) => e);
    if (err && !this.#stopped && tail === this.#tail) this.log.warn({ err }, "reconciler: record history follower failed; reopening it");
    if (this.#stopped || tail !== this.#tail) return;
    await new Promise((r) => setTimeout(r, 250));
    if (this.#stopped || tail !== this.#tail) return;
    // A failure here leaves no follower; the next pass opens one.
    await this.#reopen().catch((err: unknown) => this.log.warn({ err }, "reconciler: could not reopen the record history follower"));
  }

  #saw(m: JsMsg): void {
    if (m.seq <= this.#lastSeq) return; // a replaced follower's late delivery
    this.#lastSeq = m.seq;
    const key = m.subject;
    const state = m.data.length > 0 ? peekState(m.data) : 0;
    if (m.data.length === 0 || (state !== 0 && isTerminal(state as RunState))) {
      this.#index.delete(key);
      return;
    }
    const at = this.#rel(Math.floor(m.info.timestampNanos / 1e6));
    // Not looked at before a pass could act on it: most runs finish first.
    const wait = state === RunState.RUN_STATE_RUNNING || state === 0 ? RECONCILE_RUNNING_MIN_WAIT_MS : RECONCILE_QUEUED_MIN_AGE_MS;
    this.#index.set(key, new Entry(m.seq, at, at + wait));
  }

  #rel(ms: number): number {
    return relativeTime(ms, this.#base);
  }

  #rebase(): void {
    this.#base = rebaseTimes(this.#index.values(), this.#base, Date.now());
  }

  /** The task consumer's ack_wait (the workers' heartbeat timeout), cached for a minute. */
  async #heartbeatTimeout(run: TaskRun): Promise<number> {
    const name = taskConsumerName(run.queue, run.task, priorityLevel(run.options?.priority ?? 0));
    const cached = this.#ackWait.get(name);
    if (cached && Date.now() - cached.at < 60_000) return cached.ms;
    let ms = RECONCILE_DEFAULT_ACK_WAIT_MS;
    let keep = Date.now();
    try {
      const info = await this.nats.jsm.consumers.info(RUNS_STREAM, name);
      if (info.config.ack_wait) ms = info.config.ack_wait / 1e6;
    } catch (err) {
      // No such consumer (no worker ever served the task): the default.
      // Another failure (NATS between leaders): the default, asked again soon.
      if (!(err instanceof Error && /consumer not found/i.test(err.message))) keep -= 55_000;
    }
    this.#ackWait.set(name, { ms, at: keep });
    return ms;
  }

  /**
   * Run ids with a message in the runs stream (queued, or delivered and not
   * yet acked), or undefined when the stream holds more than one pass reads.
   * The stream is a work queue, which takes no second consumer; its
   * messages are read one by one from the leader, by sequence. A read
   * serves the passes of the next RECONCILE_QUEUE_READ_TTL_MS.
   */
  async #queuedRunIds(now: number): Promise<Set<string> | undefined> {
    const last = this.#queueRead;
    if (last && now - last.at < RECONCILE_QUEUE_READ_TTL_MS) return last.ids;
    const ids = await this.#readQueuedRunIds();
    this.#queueRead = { ids, at: now };
    return ids;
  }

  async #readQueuedRunIds(): Promise<Set<string> | undefined> {
    const info = await this.nats.jsm.streams.info(RUNS_STREAM);
    const ids = new Set<string>();
    if (info.state.messages === 0) return ids;
    if (info.state.messages > RECONCILE_MAX_SCAN) return undefined;
    const last = info.state.last_seq;
    for (let seq = info.state.first_seq; seq <= last && !this.#stopped; ) {
      const m = await this.nats.wire.getNextFromLeader(RUNS_STREAM, `${RUN_SUBJECT_PREFIX}.>`, seq);
      if (!m) break;
      const msgId = m.headers?.get("Nats-Msg-Id");
      if (msgId) ids.add(msgId.split(":")[0] ?? msgId);
      seq = m.seq + 1;
    }
    return ids;
  }

  /** Looks at the runs due for a look; see the class comment. Safe to call at any time (one pass at a time). */
  async pass(): Promise<void> {
    if (this.#passing || this.#stopped || !this.nats.connected) return;
    this.#passing = true;
    try {
      await this.#pass();
    } catch (err) {
      this.log.warn({ err }, "reconciler pass failed; trying again at the next one");
    } finally {
      this.#passing = false;
    }
  }

  /** Reopens the record history follower when it stopped moving although the stream has newer revisions. */
  async #checkTail(): Promise<void> {
    if (!this.#tail) {
      await this.#reopen();
      return;
    }
    if (this.#lastSeq !== this.#watch.seq) {
      this.#watch = { seq: this.#lastSeq, since: Date.now() };
      return;
    }
    if (Date.now() - this.#watch.since < RECONCILE_TAIL_STALL_MS) return;
    const last = (await this.nats.jsm.streams.info(RUNS_BUCKET_STREAM)).state.last_seq;
    if (last <= this.#lastSeq) {
      this.#watch.since = Date.now();
      return;
    }
    this.stats.tailReopened++;
    this.log.warn({ at: this.#lastSeq, last }, "reconciler: the record history follower stalled; reopening it where it stopped");
    await this.#reopen();
  }

  async #pass(): Promise<void> {
    this.stats.passes++;
    await this.#checkTail();
    this.#rebase();
    const now = Date.now();
    const { earliest, due } = earliestDue(this.#index, this.#rel(now), RECONCILE_MAX_CHECKS);
    if (due === 0) return;
    /** Runs that need a queued message and have none, once the queue was read. */
    const needMessage: Array<{ id: string; entry: Entry; run: TaskRun; revision: number; kind: "running" | "queued" }> = [];
    let actions = 0;
    for (const [key, entry] of earliest) {
      if (this.#stopped) return;
      this.stats.checked++;
      const id = key.slice(ALL_RECORDS_SUBJECT.length - 1);
      const stored = await this.store.get(id, { leader: true });
      if (!stored || isTerminal(stored.run.state)) {
        this.#index.delete(key);
        continue;
      }
      const { run, revision } = stored;
      const bound = RECONCILE_STALE_FACTOR * (await this.#heartbeatTimeout(run));
      const changedAt = Math.max(entry.at + this.#base, run.updatedAt?.getTime() ?? 0);
      if (revision !== entry.seq) {
        // Changed since the follower saw it (it will see the change too).
        this.#notBefore(entry, Math.max(changedAt, now) + bound);
        continue;
      }
      const quietFor = now - changedAt;
      if (run.state === RunState.RUN_STATE_RUNNING) {
        if (quietFor < bound) {
          this.#notBefore(entry, changedAt + bound);
          continue;
        }
        if (await RunStore.isHeld(this.nats.nc, run.workerId, id)) {
          this.#healthy(entry, bound); // a long task, alive
          continue;
        }
        needMessage.push({ id, entry, run, revision, kind: "running" });
      } else if (run.state === RunState.RUN_STATE_SCHEDULED) {
        if (quietFor < Math.max(bound, RECONCILE_QUEUED_MIN_AGE_MS)) {
          this.#notBefore(entry, changedAt + Math.max(bound, RECONCILE_QUEUED_MIN_AGE_MS));
          continue;
        }
        const held = await this.nats.wire.getLastFromLeader(SCHEDULED_STREAM, scheduledSubject(id));
        if (held || actions >= RECONCILE_MAX_ACTIONS || !(await this.#unchanged(id, revision))) {
          this.#healthy(entry, bound);
          continue;
        }
        actions++;
        await this.#publish(run, { type: "schedule", msgId: `${id}:reconcile:${revision}` });
        this.stats.rescheduled++;
        this.log.warn({ runId: id, revision }, "reconciler: SCHEDULED run had no held message; handed to the scheduler again");
        this.#healthy(entry, bound);
      } else {
        // PENDING, AWAITING_RETRY (CANCELLED etc. are terminal).
        const since = run.state === RunState.RUN_STATE_AWAITING_RETRY ? Math.max(changedAt, run.nextAttemptAt?.getTime() ?? 0) : changedAt;
        const wait = Math.max(bound, RECONCILE_QUEUED_MIN_AGE_MS);
        if (now - since < wait) {
          this.#notBefore(entry, since + wait);
          continue;
        }
        needMessage.push({ id, entry, run, revision, kind: "queued" });
      }
    }
    this.log.debug({ tracked: this.#index.size, due, needMessage: needMessage.length, lastSeq: this.#lastSeq }, "reconciler pass");
    if (needMessage.length === 0) return;
    const queued = await this.#queuedRunIds(now);
    if (!queued) {
      this.log.debug({ candidates: needMessage.length }, "reconciler: the run queue is longer than one pass reads; looking again later");
      for (const c of needMessage) this.#healthy(c.entry, RECONCILE_RECHECK_MAX_MS / 5);
      return;
    }
    for (const c of needMessage) {
      if (this.#stopped) return;
      const bound = RECONCILE_STALE_FACTOR * (await this.#heartbeatTimeout(c.run));
      if (queued.has(c.id) || actions >= RECONCILE_MAX_ACTIONS) {
        // Its message is there: a worker will get it (or none serves the task).
        this.#healthy(c.entry, bound);
        continue;
      }
      actions++;
      if (c.kind === "running") await this.#requeueRunning(c.id, c.revision);
      else if (await this.#unchanged(c.id, c.revision)) await this.#requeueQueued(c.run, c.revision);
      this.#healthy(c.entry, bound);
    }
  }

  /**
   * Whether the record is still at `revision`, read after its message was
   * found missing. Whoever settles a run's message for good (worker,
   * scheduler) first writes the record, so a message gone before this read
   * with the record unchanged is really lost — not just taken a moment ago.
   */
  async #unchanged(id: string, revision: number): Promise<boolean> {
    return (await this.store.get(id, { leader: true }))?.revision === revision;
  }

  /** Not stale yet: look again once it could be. */
  #notBefore(entry: Entry, at: number): void {
    entry.due = this.#rel(at);
  }

  /** Looked fine (alive holder, message queued): look again later and later while it stays so. */
  #healthy(entry: Entry, bound: number): void {
    entry.backoff = Math.min(RECONCILE_RECHECK_MAX_MS, Math.max(bound, entry.backoff * 2));
    entry.due = this.#rel(Date.now() + entry.backoff);
  }

  /** RUNNING, holder gone, no message: record the lost attempt (CAS against the revision seen), then queue it again. */
  async #requeueRunning(id: string, seen: number): Promise<void> {
    const input = { workerId: this.workerId, maxCrashRetries: MAX_CRASH_RETRIES };
    const out = await this.store.transition(id, (run) => (run.state === RunState.RUN_STATE_RUNNING && run.revision === seen ? claim(run, input, new Date()) : nothing));
    if (!out?.written) return; // another broker did it, or the run moved on
    const run = { ...out.stored.run, revision: out.stored.revision };
    if (out.step.effects.some((e) => e.type === "claimAgain")) {
      await this.#publish(run, { type: "enqueue", msgId: `${id}:reconcile:${out.stored.revision}` });
      this.stats.requeuedRunning++;
      this.log.warn({ runId: id, attempt: run.attempt, lostWorker: run.attempts.at(-1)?.workerId }, "reconciler: RUNNING run had no live holder and no message; attempt recorded CRASHED, queued again");
    } else {
      this.log.warn({ runId: id, state: RunState[run.state] }, "reconciler: RUNNING run had no live holder and no message; finished it");
    }
  }

  /** PENDING / AWAITING_RETRY with no queued message: queue it again (one message however many brokers do it: its id names the revision). */
  async #requeueQueued(run: TaskRun, revision: number): Promise<void> {
    await this.#publish({ ...run, revision }, { type: "enqueue", msgId: `${run.id}:reconcile:${revision}` });
    this.stats.requeuedQueued++;
    this.log.warn({ runId: run.id, state: RunState[run.state], revision }, "reconciler: unfinished run had no queued message; queued again");
  }

  #publish(run: TaskRun, effect: Effect): Promise<unknown> {
    return this.#publisher.publish([effect], run, ROOT_CONTEXT);
  }
}
