import type { KV } from "@nats-io/kv";
import { type TaskRun } from "@taskwire/client/gen";
import { decodeRun, encodeRun } from "./codec.js";
import { isWrongLastSequence } from "./errors.js";
import { RUNS_BUCKET, RUNS_BUCKET_STREAM } from "./layout.js";
import type { JsWire } from "./wire.js";

export interface StoredRun {
  run: TaskRun;
  /** KV revision the record was read at; the CAS precondition of the next write. */
  revision: number;
}

/** What a transition function decides for the record it is shown. */
export type Decision =
  | { write: TaskRun }
  | { skip: true };

const KEY_PREFIX = `$KV.${RUNS_BUCKET}.`;

/**
 * Reads and compare-and-set writes of run records in the runs KV bucket.
 * With a `JsWire` (every broker and worker passes theirs) the three
 * operations go through it — the same KV protocol (`$KV.<bucket>.<key>`
 * subjects, `Nats-Expected-Last-Subject-Sequence`, direct gets) without
 * nats.js's per-request overhead; without one, through the KV client.
 * Run records are never deleted (they age out), so there are no
 * tombstones to step over.
 */
export class RunStore {
  constructor(
    readonly kv: KV,
    readonly wire?: JsWire,
  ) {}

  async get(id: string): Promise<StoredRun | undefined> {
    if (this.wire) {
      const m = await this.wire.getLast(RUNS_BUCKET_STREAM, KEY_PREFIX + id);
      if (!m || m.data.length === 0) return undefined;
      const op = m.headers?.get("KV-Operation");
      if (op && op !== "PUT") return undefined;
      const run = decodeRun(m.data);
      run.revision = m.seq;
      return { run, revision: m.seq };
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
  async createEncoded(id: string, data: Uint8Array): Promise<number | undefined> {
    try {
      return await this.#write(id, data, 0);
    } catch (err) {
      if (isWrongLastSequence(err)) return undefined;
      throw err;
    }
  }

  /** One compare-and-set write; resolves with the new revision. */
  async #write(id: string, data: Uint8Array, expected: number): Promise<number> {
    if (this.wire) return (await this.wire.publish(KEY_PREFIX + id, data, { expectedLastSubjectSeq: expected })).seq;
    return expected === 0 ? this.kv.create(id, data) : this.kv.update(id, data, expected);
  }

  /**
   * Applies `decide` with compare-and-set, re-reading and re-deciding on
   * every lost race, so concurrent writers (a worker finishing, a broker
   * cancelling) never overwrite each other. `known` saves the first read
   * when the caller already holds a recent copy.
   */
  async transition(
    id: string,
    decide: (current: TaskRun) => Decision,
    known?: StoredRun,
  ): Promise<{ stored: StoredRun; written: boolean } | undefined> {
    let current = known ?? (await this.get(id));
    for (let i = 0; i < 100; i++) {
      if (!current) return undefined;
      const d = decide(current.run);
      if ("skip" in d) return { stored: current, written: false };
      const next = { ...d.write, revision: 0, updatedAt: d.write.updatedAt ?? new Date() };
      try {
        const revision = await this.#write(id, encodeRun(next), current.revision);
        next.revision = revision;
        return { stored: { run: next, revision }, written: true };
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        current = await this.get(id);
      }
    }
    throw new Error(`run ${id}: gave up after 100 conflicting writes`);
  }
}
