import type { KV } from "@nats-io/kv";
import { type TaskRun } from "@taskwire/client/gen";
import { decodeRun, encodeRun } from "./codec.js";
import { isWrongLastSequence } from "./errors.js";

export interface StoredRun {
  run: TaskRun;
  /** KV revision the record was read at; the CAS precondition of the next write. */
  revision: number;
}

/** What a transition function decides for the record it is shown. */
export type Decision =
  | { write: TaskRun }
  | { skip: true };

/** Reads and compare-and-set writes of run records in the runs KV bucket. */
export class RunStore {
  constructor(readonly kv: KV) {}

  async get(id: string): Promise<StoredRun | undefined> {
    const e = await this.kv.get(id);
    if (!e || e.operation !== "PUT") return undefined;
    const run = decodeRun(e.value);
    run.revision = e.revision;
    return { run, revision: e.revision };
  }

  /** Creates the record; returns undefined when the key already exists. */
  async create(run: TaskRun): Promise<number | undefined> {
    try {
      return await this.kv.create(run.id, encodeRun({ ...run, revision: 0 }));
    } catch (err) {
      if (isWrongLastSequence(err)) return undefined;
      throw err;
    }
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
        const revision = await this.kv.update(id, encodeRun(next), current.revision);
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
