import { INDEX_STREAM, INDEX_SUBJECT_PREFIX, type NatsHandle, recordSubject, RUN_SUBJECT_PREFIX, RUNS_BUCKET_STREAM, RUNS_STREAM, SCHEDULED_STREAM, SCHEDULED_SUBJECT_PREFIX } from "@taskwire/core";
import { RunState } from "@taskwire/protocol";
import { JetStreamApiError } from "@nats-io/jetstream";
import { status as Status } from "@grpc/grpc-js";
import { BrokerError } from "../errors.js";
import type { IndexEntry, ListFilter, ListingSource } from "./scan.js";

const decoder = new TextDecoder();
/** Every index subject. */
const ALL_INDEX = `${INDEX_SUBJECT_PREFIX}.>`;
/** States whose runs all hold a message in the runs work queue (acked only once finished). */
const QUEUED = new Set<RunState>([RunState.RUN_STATE_PENDING, RunState.RUN_STATE_RUNNING, RunState.RUN_STATE_AWAITING_RETRY]);

/** The listing's reads on NATS: stream info and direct gets, which any replica of the index answers. */
export class NatsListingSource implements ListingSource {
  constructor(readonly nats: NatsHandle) {}

  async span(subject: string): Promise<{ first: number; last: number; count: number }> {
    try {
      const si = await this.nats.jsm.streams.info(INDEX_STREAM, { subjects_filter: subject });
      return { first: si.state.first_seq, last: si.state.last_seq, count: sum(si.state.subjects) };
    } catch (err) {
      // Stream not found: removed by hand (a broker creates it when it starts).
      if (err instanceof JetStreamApiError && err.code === 10059) throw new BrokerError(Status.FAILED_PRECONDITION, `the run index (stream ${INDEX_STREAM}) does not exist: restart a broker to create it (runs submitted meanwhile are refused)`, { cause: err });
      throw err;
    }
  }

  async at(seq: number, subject?: string): Promise<IndexEntry | undefined> {
    const m = await this.nats.wire.getBySeq(INDEX_STREAM, seq, subject ?? ALL_INDEX);
    return m && { seq: m.seq, subject: m.subject, storedAt: m.storedAt, id: decoder.decode(m.data) };
  }

  async record(id: string): Promise<{ data: Uint8Array; revision: number } | undefined> {
    const m = await this.nats.wire.getLast(RUNS_BUCKET_STREAM, recordSubject(id));
    if (!m || m.data.length === 0) return undefined;
    const op = m.headers?.get("KV-Operation");
    if (op && op !== "PUT") return undefined;
    return { data: m.data, revision: m.seq };
  }

  /**
   * A queued, running or retrying run holds its message in TASKWIRE_RUNS
   * until it is finished, and a scheduled one in TASKWIRE_SCHEDULED: when
   * those hold none for the filter's queue and task, no run is in these
   * states (in any namespace), and "show the running ones" answers at once.
   */
  async noneIn(f: ListFilter): Promise<boolean> {
    if (!f.states.every((s) => QUEUED.has(s) || s === RunState.RUN_STATE_SCHEDULED)) return false;
    const [queued, scheduled] = await Promise.all([
      f.states.some((s) => QUEUED.has(s)) ? this.#queued(f) : 0,
      f.states.includes(RunState.RUN_STATE_SCHEDULED) ? this.nats.jsm.streams.info(SCHEDULED_STREAM, { subjects_filter: `${SCHEDULED_SUBJECT_PREFIX}.*` }).then((si) => sum(si.state.subjects)) : 0,
    ]);
    return queued === 0 && scheduled === 0;
  }

  /** Messages in the runs work queue on the filter's queue and task (subjects `taskwire.run.<queue>.<task>[.<priority>]`). */
  async #queued(f: ListFilter): Promise<number> {
    const si = await this.nats.jsm.streams.info(RUNS_STREAM, { subjects_filter: `${RUN_SUBJECT_PREFIX}.>` });
    let n = 0;
    for (const [subject, count] of Object.entries(si.state.subjects ?? {})) {
      const t = subject.split(".");
      if ((!f.queue || t[2] === f.queue) && (!f.task || t[3] === f.task)) n += count;
    }
    return n;
  }
}

function sum(subjects: Record<string, number> | undefined): number {
  let n = 0;
  for (const c of Object.values(subjects ?? {})) n += c;
  return n;
}
