import type { ServerWritableStream } from "@grpc/grpc-js";
import { status as Status } from "@grpc/grpc-js";
import { DeliverPolicy, type ConsumerMessages } from "@nats-io/jetstream";
import { EventType, RunState, type RunEvent, type StreamEventsRequest, type StreamEventsResponse, type TaskRun } from "@taskwire/protocol";
import { ALL_RECORDS_SUBJECT, namespaceOf, recordSubject, RUNS_BUCKET_STREAM, runIdTime } from "@taskwire/core";
import { decodeRun, isTerminal } from "@taskwire/protocol";
import type { Logger } from "pino";
import { BrokerError } from "./errors.js";
import { PeerLimits } from "./peer-limits.js";
import { DEFAULT_NS, type Runs } from "./runs.js";
import { validateStreamEvents } from "./validate.js";

/**
 * The events a record revision stands for, with the KV stream sequence as
 * cursor: its own, preceded by STARTED when the revision also records its
 * attempt's start (`folds_start`: the attempt ended before its RUNNING
 * revision was written). That STARTED event's cursor is the sequence just
 * before the revision, so resuming after it yields the revision's own event
 * too (nothing is skipped; cursors never decrease).
 */
export function eventsOf(run: TaskRun, seq: number, time: Date | undefined): RunEvent[] {
  const own = eventOf(run, seq, time);
  if (!run.foldsStart) return [own];
  const startedAt = run.attempts.find((a) => a.number === run.attempt)?.startedAt;
  return [{ ...own, cursor: String(seq - 1), type: EventType.EVENT_TYPE_STARTED, state: RunState.RUN_STATE_RUNNING, time: startedAt ?? own.time, log: undefined }, own];
}

/** The event a record revision stands for. The KV stream sequence is the cursor. */
export function eventOf(run: TaskRun, seq: number, time: Date | undefined): RunEvent {
  return {
    cursor: String(seq),
    runId: run.id,
    task: run.task,
    type: run.lastEvent,
    state: run.state,
    attempt: run.attempt,
    time: run.updatedAt ?? time,
    run,
    log: run.lastEvent === EventType.EVENT_TYPE_LOG ? run.logs.at(-1) : undefined,
  };
}

/**
 * Serves one StreamEvents call. Every change of a run is a revision of its
 * KV record, and the KV bucket is a stream: reading that stream with an
 * ordered consumer yields every change, in order, each with its stream
 * sequence as cursor. Resuming is starting after a sequence, so a client
 * that reconnects with its last cursor misses nothing.
 */
export class EventStreamer {
  readonly #active = new Set<() => void>();

  constructor(
    readonly runs: Runs,
    readonly log: Logger,
    /** Caps the StreamEvents calls one client connection may hold open. */
    readonly perConnection = new PeerLimits("StreamEvents calls", 1_000, "TASKWIRE_MAX_STREAMS_PER_CONNECTION"),
  ) {}

  #shuttingDown = false;

  /**
   * Ends every open stream (shutdown) with UNAVAILABLE, so clients tell it
   * from a normal end and reconnect — to any replica — with their cursor.
   */
  closeAll(): void {
    this.#shuttingDown = true;
    for (const close of this.#active) close();
  }

  /** Streams the events of `namespace`'s runs (the caller's); another namespace's run is NOT_FOUND. */
  async serve(call: ServerWritableStream<StreamEventsRequest, StreamEventsResponse>, namespace: string = DEFAULT_NS): Promise<void> {
    const release = this.perConnection.acquire(call.getPeer());
    try {
      await this.#serve(call, namespace);
    } finally {
      release();
    }
  }

  async #serve(call: ServerWritableStream<StreamEventsRequest, StreamEventsResponse>, namespace: string): Promise<void> {
    const req = call.request;
    const { afterSeq, heartbeatMs } = validateStreamEvents(req);
    this.runs.ensureConnected();
    const wanted = new Set(req.runIds);
    const tasks = new Set(req.tasks);
    const states = new Set(req.states);
    const pendingTerminal = new Set(req.runIds);
    // A run's history may hold an old terminal event (FAILED, then Retry):
    // only a terminal event at or after its revision when we started ends it.
    const revisionAtStart = new Map<string, number>();
    // Unknown run ids are an error the caller can fix, not an empty stream.
    for (const id of req.runIds) {
      const s = await this.runs.store.get(id);
      if (!s || namespaceOf(s.run) !== namespace) throw new BrokerError(Status.NOT_FOUND, `run ${id} not found: it never existed or its record expired`);
      revisionAtStart.set(id, s.revision);
      // Resuming after the run's terminal event: nothing more will come.
      if (req.untilTerminal && isTerminal(s.run.state) && afterSeq >= s.revision) pendingTerminal.delete(id);
    }
    if (req.untilTerminal && pendingTerminal.size === 0) {
      call.end();
      return;
    }

    const opts: Parameters<typeof this.runs.nats.js.consumers.get>[1] =
      req.runIds.length === 1 ? { filter_subjects: recordSubject(req.runIds[0] ?? "") } : { filter_subjects: ALL_RECORDS_SUBJECT };
    if (typeof opts === "object") {
      if (afterSeq > 0) {
        opts.deliver_policy = DeliverPolicy.StartSequence;
        opts.opt_start_seq = afterSeq + 1;
      } else if (req.runIds.length === 1) {
        opts.deliver_policy = DeliverPolicy.All;
      } else if (req.runIds.length > 1) {
        // Start at the oldest run's creation (UUIDv7 carries it), a second early for clock skew.
        const start = Math.min(...req.runIds.map(runIdTime)) - 1_000;
        opts.deliver_policy = DeliverPolicy.StartTime;
        opts.opt_start_time = new Date(start).toISOString();
      } else {
        opts.deliver_policy = DeliverPolicy.New;
      }
    }
    const consumer = await this.runs.nats.js.consumers.get(RUNS_BUCKET_STREAM, opts);
    const messages: ConsumerMessages = await consumer.consume({ max_messages: 256 });
    let scanned = afterSeq;
    let ended = false;
    const close = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(hb);
      void messages.close();
    };
    this.#active.add(close);
    call.on("cancelled", close);
    call.on("close", close);
    const write = async (res: StreamEventsResponse): Promise<void> => {
      if (!call.write(res)) await new Promise<void>((r) => call.once("drain", r));
    };
    const hb = setInterval(() => {
      if (!ended) call.write({ event: undefined, heartbeat: { time: new Date(), cursor: scanned > 0 ? String(scanned) : "" } });
    }, heartbeatMs);
    try {
      for await (const m of messages) {
        if (ended) break;
        scanned = m.seq;
        const op = m.headers?.get("KV-Operation");
        if (op === "DEL" || op === "PURGE" || m.data.length === 0) continue;
        const run = decodeRun(m.data);
        run.revision = m.seq;
        if (namespaceOf(run) !== namespace) continue;
        if (wanted.size > 0 && !wanted.has(run.id)) continue;
        const terminal = isTerminal(run.state);
        if (tasks.size === 0 || tasks.has(run.task)) {
          // The state filter is per event: a folded STARTED is RUNNING, its revision's own event the run's state.
          for (const event of eventsOf(run, m.seq, m.info.timestampNanos ? new Date(m.info.timestampNanos / 1e6) : undefined)) {
            if (states.size === 0 || states.has(event.state)) await write({ event, heartbeat: undefined });
          }
        }
        if (req.untilTerminal && terminal && m.seq >= (revisionAtStart.get(run.id) ?? 0)) {
          pendingTerminal.delete(run.id);
          if (pendingTerminal.size === 0) break;
        }
      }
    } finally {
      close();
      this.#active.delete(close);
    }
    if (this.#shuttingDown) throw new BrokerError(Status.UNAVAILABLE, "broker is shutting down; reconnect with your last cursor");
    if (!call.cancelled) call.end();
  }
}
