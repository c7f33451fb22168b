import type { KV } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeRun, encodeRun, type Step, type TaskRun } from "@taskwire/protocol";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { isWrongLastSequence } from "./errors.js";
import { RUNS_BUCKET, RUNS_BUCKET_STREAM } from "./layout.js";
import { isAmbiguous, type JsWire, type PubAck, type StoredMsg } from "./wire.js";

export interface StoredRun {
  run: TaskRun;
  /** KV revision the record was read at; the CAS precondition of the next write. */
  revision: number;
}

/** The result of `RunStore.transition`: the record as it now is, and the lifecycle step that was carried out. */
export interface Transitioned {
  stored: StoredRun;
  /** Whether the step's write was made (false when the step wrote nothing or was refused). */
  written: boolean;
  /** The step decided from the record that was current when it applied. */
  step: Step;
}

const KEY_PREFIX = `$KV.${RUNS_BUCKET}.`;

/** Subject prefix of the holder probes (core NATS): `taskwire.holding.<worker id>`. */
const HOLDING_SUBJECT_PREFIX = "taskwire.holding";
/** Attempts, per-attempt timeout and pause of a holder probe, in ms: a dead worker is concluded within ~3 × (timeout or pause). */
const HOLDER_PROBE_ATTEMPTS = 3;
const HOLDER_PROBE_TIMEOUT_MS = 500;
const HOLDER_PROBE_PAUSE_MS = 100;

/** Longest wait for a write the server accepted to show in the leader's store, in ms. */
const APPLIED_WAIT_MS = 2_000;

/** Attempts of one transition before it gives up on a record written by others the whole time. */
const MAX_CAS_ATTEMPTS = 100;

/** How a record is read. */
export interface ReadOptions {
  /**
   * Read the stream leader's copy, which has every acknowledged write. By
   * default any replica answers (a direct get, cheaper), and a follower can
   * be behind — by seconds after it restarted.
   */
  leader?: boolean;
  /**
   * A revision known to exist (one this process wrote or read): a replica's
   * answer below it is stale, and the leader is asked instead.
   */
  minRevision?: number;
  /**
   * A copy already decoded (e.g. the one a queue message carries) and its
   * encoding: a stored record with exactly these bytes is answered with
   * this copy instead of being decoded again.
   */
  like?: { data: Uint8Array; run: TaskRun };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

/**
 * Whether a lifecycle step decided from a replica's copy must be confirmed
 * on the leader's before it is carried out: a step that writes is checked by
 * its compare-and-set anyway, and one that only hands a message back
 * (nak) just waits; anything else — settle a message for good, change
 * nothing, refuse — would be wrong on a stale copy (e.g. ack a run whose
 * RUNNING revision the replica has not seen yet, leaving it RUNNING forever).
 */
function needsConfirmation(step: Step): boolean {
  if (step.write) return false;
  return step.effects.length === 0 || step.effects.some((e) => e.type !== "nak");
}

/**
 * Reads and compare-and-set writes of run records in the runs KV bucket.
 * With a `JsWire` (every broker and worker passes theirs) the three
 * operations go through it — the same KV protocol (`$KV.<bucket>.<key>`
 * subjects, `Nats-Expected-Last-Subject-Sequence`, direct gets) without
 * nats.js's per-request overhead; without one, through the KV client.
 * Run records are never deleted (they age out), so there are no
 * tombstones to step over.
 *
 * On a replicated bucket a direct get may be answered by a follower that
 * is behind. Reads therefore fall back to the leader when the replica has
 * no such record or an older revision than one already known, and
 * `transition` confirms on the leader any decision that a stale copy could
 * make wrong (see `needsConfirmation`).
 */
export class RunStore {
  constructor(
    readonly kv: KV,
    readonly wire?: JsWire,
  ) {}

  /** Core-NATS subject on which a worker answers whether it holds a run: `taskwire.holding.<worker id>` (characters other than letters, digits, "-" and "_" become "_"). */
  static holderSubject(workerId: string): string {
    return `${HOLDING_SUBJECT_PREFIX}.${workerId.replace(/[^A-Za-z0-9_-]/g, "_") || "_"}`;
  }

  /**
   * Whether worker `workerId` (a RUNNING record's holder) is executing run
   * `runId` right now, asked over core NATS, which works while JetStream
   * elects leaders. A live worker answers in milliseconds; a dead one has
   * no subscription (no responders), so it is asked again briefly in case
   * it is only reconnecting to another node; a hung one does not answer.
   */
  static async isHeld(nc: NatsConnection, workerId: string, runId: string): Promise<boolean> {
    const subject = RunStore.holderSubject(workerId);
    const payload = new TextEncoder().encode(JSON.stringify({ workerId, runId }));
    for (let i = 0; i < HOLDER_PROBE_ATTEMPTS; i++) {
      try {
        const reply = await nc.request(subject, payload, { timeout: HOLDER_PROBE_TIMEOUT_MS });
        return new TextDecoder().decode(reply.data) === "1";
      } catch (err) {
        if (nc.isClosed()) throw err;
        // No responders (gone, or between two nodes) or no answer (busy, hung): ask again, then give up.
        await new Promise((r) => setTimeout(r, HOLDER_PROBE_PAUSE_MS));
      }
    }
    return false;
  }

  /**
   * Answers holder probes for worker `workerId`: `holds(runId)` says
   * whether it executes that run now. Returns the subscription.
   */
  static answerHolderProbes(nc: NatsConnection, workerId: string, holds: (runId: string) => boolean): Subscription {
    return nc.subscribe(RunStore.holderSubject(workerId), {
      callback: (_err, msg) => {
        let q: { workerId?: string; runId?: string };
        try {
          q = JSON.parse(new TextDecoder().decode(msg.data)) as typeof q;
        } catch {
          return;
        }
        // Another worker whose id maps to the same subject stays silent.
        if (q.workerId !== workerId || !q.runId) return;
        msg.respond(new TextEncoder().encode(holds(q.runId) ? "1" : "0"));
      },
    });
  }

  async get(id: string, opts: ReadOptions = {}): Promise<StoredRun | undefined> {
    if (this.wire) {
      if (!opts.leader) {
        const m = await this.wire.getLast(RUNS_BUCKET_STREAM, KEY_PREFIX + id);
        if (m && m.seq >= (opts.minRevision ?? 0)) return storedOf(m, opts.like);
        // None, or older than known: maybe a lagging replica answered.
      }
      const m = await this.wire.getLastFromLeader(RUNS_BUCKET_STREAM, KEY_PREFIX + id);
      return m ? storedOf(m, opts.like) : undefined;
    }
    const e = await this.kv.get(id);
    if (!e || e.operation !== "PUT") return undefined;
    const run = decodeRun(e.value);
    run.revision = e.revision;
    return { run, revision: e.revision };
  }

  /** Creates the record; returns undefined when the key already exists. */
  create(run: TaskRun): Promise<number | undefined> {
    return this.createEncoded(run.id, encodeRun({ ...run, revision: 0 }));
  }

  /** `create` for a record already encoded with `encodeRun` (at revision 0). */
  createEncoded(id: string, data: Uint8Array): Promise<number | undefined> {
    return this.#write(id, data, 0).catch((err: unknown) => {
      if (!isWrongLastSequence(err)) throw err;
      // A create resent after a lost reply finds the key written: by us?
      if (isAmbiguous(err)) return this.#appliedAt(id, data, 0);
      return undefined;
    });
  }

  /**
   * One compare-and-set write; resolves with the new revision. On servers
   * that check the precondition only before replicating (see
   * `JsWire.casNeedsMsgId`) the write carries the message id
   * `<key>@<expected revision>`: every write against that revision has the
   * same id, so the server stores only the first, and answers the others
   * "duplicate" — ours resent, or another writer's that won.
   */
  #write(id: string, data: Uint8Array, expected: number): Promise<number> {
    if (!this.wire) return expected === 0 ? this.kv.create(id, data) : this.kv.update(id, data, expected);
    return this.#publish(this.wire, id, data, expected).then((ack) => (ack.duplicate ? this.#duplicateWrite(id, data, expected) : ack.seq));
  }

  /** The compare-and-set publish of `#write` (its ack not read yet). */
  #publish(wire: JsWire, id: string, data: Uint8Array, expected: number): Promise<PubAck> {
    return wire.publish(KEY_PREFIX + id, data, { expectedLastSubjectSeq: expected, msgID: wire.casNeedsMsgId ? `${id}@${expected}` : undefined });
  }

  /** A write answered "duplicate": ours resent (its revision), or another writer's against the same revision that won. */
  async #duplicateWrite(id: string, data: Uint8Array, expected: number): Promise<number> {
    const applied = await this.#appliedAt(id, data, expected, true);
    if (applied !== undefined) return applied;
    throw new JetStreamApiError({ code: 400, err_code: JetStreamApiCodes.StreamWrongLastSequence, description: `wrong last sequence: another write against revision ${expected} of ${id} came first` });
  }

  /**
   * The revision our write of `data` against `expected` was stored at, if
   * it was: a compare-and-set that applied is the key's first write after
   * `expected`. Asked after a write whose reply was lost and whose resend
   * then failed its precondition (against itself, or against another writer).
   */
  async #appliedAt(id: string, data: Uint8Array, expected: number, stored = false): Promise<number | undefined> {
    const wire = this.wire;
    if (!wire) return undefined;
    // `stored`: the server said a write against `expected` was accepted; it
    // may still be on its way to the leader's store (replication).
    const until = Date.now() + (stored ? APPLIED_WAIT_MS : 0);
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const m = await wire.getNextFromLeader(RUNS_BUCKET_STREAM, KEY_PREFIX + id, expected + 1);
      if (m) return sameBytes(m.data, data) ? m.seq : undefined;
      if (Date.now() + pause > until) return undefined;
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  /**
   * Applies a lifecycle decision with compare-and-set: `decide` (one of the
   * protocol's lifecycle functions) is shown the current record, and its
   * write is made against that record's revision. On a lost race the record
   * is read again (from the leader) and decided again, so concurrent
   * writers (a worker finishing, a broker cancelling) never overwrite each
   * other. `known` saves the first read when the caller already holds a
   * recent copy; `minRevision` is a revision the caller knows exists (e.g.
   * the one it wrote last), so an older replica copy is not decided on.
   * Resolves undefined when there is no such record.
   */
  transition(id: string, decide: (current: TaskRun) => Step, known?: StoredRun, opts: { minRevision?: number } = {}): Promise<Transitioned | undefined> {
    const minRevision = opts.minRevision ?? 0;
    // The common case, a write decided on a known copy that nobody changed
    // meanwhile, costs the write's promise alone (no read, no loop).
    if (this.wire && known && known.revision >= minRevision) {
      try {
        const step = decide(known.run);
        if (step.write) return this.#cas(id, step, known.revision, () => this.#decideAgain(id, decide, 1));
      } catch (err) {
        return Promise.reject(err as Error); // as from an async function: callers see a rejection, never a throw
      }
    }
    return this.#decide(id, decide, known, minRevision);
  }

  /** `transition` read, decided and written in a loop until a write succeeds or nothing is left to write. */
  async #decide(id: string, decide: (current: TaskRun) => Step, known: StoredRun | undefined, minRevision: number): Promise<Transitioned | undefined> {
    const current = known && known.revision >= minRevision ? known : await this.get(id, { minRevision });
    return this.#decideFrom(id, decide, current, !this.wire, 0);
  }

  /** `transition` after a lost compare-and-set: decided again on the leader's copy. */
  async #decideAgain(id: string, decide: (current: TaskRun) => Step, tries: number): Promise<Transitioned | undefined> {
    return this.#decideFrom(id, decide, await this.get(id, { leader: true }), true, tries);
  }

  async #decideFrom(id: string, decide: (current: TaskRun) => Step, current: StoredRun | undefined, confirmed: boolean, tries: number): Promise<Transitioned | undefined> {
    for (let i = tries; i < MAX_CAS_ATTEMPTS; i++) {
      if (!current) return undefined;
      const step = decide(current.run);
      if (!step.write) {
        if (confirmed || !needsConfirmation(step)) return { stored: current, written: false, step };
        const latest = await this.get(id, { leader: true });
        confirmed = true;
        if (latest && latest.revision === current.revision) return { stored: current, written: false, step };
        current = latest;
        continue;
      }
      const out = await this.#cas(id, step, current.revision, () => undefined);
      if (out) return out;
      // Lost the race (or decided on a lagging replica's copy): decide again on the leader's.
      current = await this.get(id, { leader: true });
      confirmed = true;
    }
    throw new Error(`run ${id}: gave up after ${MAX_CAS_ATTEMPTS} conflicting writes`);
  }

  /**
   * Writes `step.write` against revision `expected` (compare-and-set).
   * Resolves with the stored record, or with `lost()` when another write
   * came first (the caller decides again on a fresh copy). The step's
   * record is the one stored: lifecycle steps are made fresh for each
   * decision.
   */
  #cas(id: string, step: Step, expected: number, lost: () => Promise<Transitioned | undefined> | undefined): Promise<Transitioned | undefined> {
    const next = step.write as TaskRun;
    next.revision = 0;
    const data = encodeRun(next);
    const written = (revision: number): Transitioned => {
      next.revision = revision;
      return { stored: { run: next, revision }, written: true, step };
    };
    const refused = async (err: unknown): Promise<Transitioned | undefined> => {
      if (!isWrongLastSequence(err)) throw err;
      if (isAmbiguous(err)) {
        const revision = await this.#appliedAt(id, data, expected);
        if (revision !== undefined) return written(revision);
      }
      return lost();
    };
    if (!this.wire) return this.#write(id, data, expected).then(written, refused);
    // `#write`, with the ack read in the same callback.
    return this.#publish(this.wire, id, data, expected).then((ack) => (ack.duplicate ? this.#duplicateWrite(id, data, expected).then(written, refused) : written(ack.seq)), refused);
  }
}

/** A record from a stored KV message (undefined for a delete marker). */
function storedOf(m: StoredMsg, like?: ReadOptions["like"]): StoredRun | undefined {
  if (m.data.length === 0) return undefined;
  const op = m.headers?.get("KV-Operation");
  if (op && op !== "PUT") return undefined;
  const run = like && sameBytes(m.data, like.data) ? { ...like.run } : decodeRun(m.data);
  run.revision = m.seq;
  return { run, revision: m.seq };
}
