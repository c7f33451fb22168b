import type { KV } from "@nats-io/kv";
import { decodeRun, encodeRun, type Step, type TaskRun } from "@taskwire/protocol";
import { isWrongLastSequence } from "./errors.js";
import { RUNS_BUCKET, RUNS_BUCKET_STREAM } from "./layout.js";
import type { JsWire } from "./wire.js";

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

/** Attempts of one transition before it gives up on a record written by others the whole time. */
const MAX_CAS_ATTEMPTS = 100;

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
   * Applies a lifecycle decision with compare-and-set: `decide` (one of the
   * protocol's lifecycle functions) is shown the current record, and its
   * write is made against that record's revision. On a lost race the record
   * is read again and decided again, so concurrent writers (a worker
   * finishing, a broker cancelling) never overwrite each other. `known`
   * saves the first read when the caller already holds a recent copy.
   * Resolves undefined when there is no such record.
   */
  async transition(id: string, decide: (current: TaskRun) => Step, known?: StoredRun): Promise<Transitioned | undefined> {
    let current = known ?? (await this.get(id));
    for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
      if (!current) return undefined;
      const step = decide(current.run);
      if (!step.write) return { stored: current, written: false, step };
      const next = { ...step.write, revision: 0 };
      try {
        const revision = await this.#write(id, encodeRun(next), current.revision);
        next.revision = revision;
        return { stored: { run: next, revision }, written: true, step };
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        current = await this.get(id);
      }
    }
    throw new Error(`run ${id}: gave up after ${MAX_CAS_ATTEMPTS} conflicting writes`);
  }
}
