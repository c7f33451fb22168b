import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import type { Subscription } from "@nats-io/transport-node";
import { CANCEL_SUBJECT_PREFIX, encodeWorkerRecord, Heartbeats, KeySlots, type NatsHandle, RateLimiter, type RunStore, WORKER_RECORD_INTERVAL_MS, workerKey } from "@taskwire/core";
import type { Logger } from "pino";
import type { SessionSpec } from "./hello.js";
import { RemoteSession, type SessionOutput } from "./session.js";

/** The broker's settings for the runs it executes on remote workers' behalf. */
export interface RemoteWorkerSettings {
  /** Held messages are kept alive this often, in ms; the task consumers' ack_wait is twice it. Remote workers heartbeat twice as often. */
  heartbeatMs: number;
  maxResultBytes: number;
  inlineResultBytes: number;
  maxCrashRetries: number;
}

/** The NATS resources a session's claims and records use. */
export interface SharedResources {
  store: RunStore;
  cache: KV;
  results: ObjectStore;
  rateLimiter: RateLimiter;
  keySlots: KeySlots;
}

/**
 * Every remote worker session of this broker (WorkerService/Connect): one
 * timer heartbeats every message they hold, one subscription routes cancel
 * notices to the session executing the run, one timer ends sessions whose
 * worker went silent. A worker that connects again under the same id takes
 * over its earlier session's runs (see RemoteSession.handOver).
 */
export class RemoteWorkers {
  readonly heartbeats: Heartbeats;
  readonly shared: SharedResources;
  readonly #sessions = new Map<string, RemoteSession>();
  /** Which session executes a run, for cancel notices. */
  readonly byRun = new Map<string, RemoteSession>();
  #cancelSub: Subscription | undefined;
  #liveness: NodeJS.Timeout | undefined;
  #presence: NodeJS.Timeout | undefined;
  #stopped = false;
  /** The taskwire_workers bucket: each session keeps its worker's record there, as the TS worker does (GET /v1/workers, the UI). */
  readonly #workersKv: KV | undefined;

  constructor(
    readonly nats: NatsHandle,
    resources: { store: RunStore; cache: KV; results: ObjectStore; limits: KV; workers?: KV },
    readonly settings: RemoteWorkerSettings,
    readonly log: Logger,
  ) {
    this.heartbeats = new Heartbeats(settings.heartbeatMs);
    this.#workersKv = resources.workers;
    this.shared = {
      store: resources.store,
      cache: resources.cache,
      results: resources.results,
      rateLimiter: new RateLimiter(resources.limits),
      keySlots: new KeySlots(resources.limits, 2 * settings.heartbeatMs),
    };
  }

  /**
   * How often a remote worker must send something, in ms: half the
   * heartbeat. A session silent for 4 of these (2 × the heartbeat: the
   * TS worker's redelivery deadline) is ended and its runs handed back; the
   * slack rides out a busy worker or a broker whose event loop lags.
   */
  get workerIntervalMs(): number {
    return Math.max(50, Math.floor(this.settings.heartbeatMs / 2));
  }

  start(): void {
    this.#cancelSub = this.nats.nc.subscribe(`${CANCEL_SUBJECT_PREFIX}.>`, {
      callback: (_err, msg) => {
        const id = msg.subject.slice(CANCEL_SUBJECT_PREFIX.length + 1);
        this.byRun.get(id)?.cancel(id, msg.string());
      },
    });
    const limit = 4 * this.workerIntervalMs;
    this.#liveness = setInterval(() => {
      const now = Date.now();
      for (const s of this.#sessions.values()) s.checkAlive(now, limit);
    }, Math.max(25, Math.floor(this.workerIntervalMs / 2)));
    this.#liveness.unref();
    this.#presence = setInterval(() => void this.#writeRecords(), this.presenceIntervalMs);
    this.#presence.unref();
  }

  /** How often a session's worker record is rewritten, in ms (the TS worker's interval). */
  get presenceIntervalMs(): number {
    return Math.min(this.settings.heartbeatMs, WORKER_RECORD_INTERVAL_MS);
  }

  /** Writes the record of every connected worker; a failed write only costs a stale entry until the next. */
  async #writeRecords(): Promise<void> {
    const kv = this.#workersKv;
    if (!kv) return;
    await Promise.all(
      [...this.#sessions.values()].map((s) =>
        kv.put(workerKey(s.workerId), encodeWorkerRecord(s.record(this.presenceIntervalMs))).catch((err: unknown) => this.log.debug({ err, worker: s.workerId }, "could not write a remote worker's record")),
      ),
    );
  }

  /** Sessions connected now. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * Opens the session of a worker that said hello. A session of the same
   * worker id already here is from before a reconnect: the runs the worker
   * lists as still running move to the new session with their messages;
   * the old session ends.
   */
  async open(spec: SessionSpec, namespace: string, out: SessionOutput): Promise<RemoteSession> {
    if (this.#stopped) throw new Error("the broker is shutting down");
    const session = new RemoteSession(this, spec, namespace, out);
    const previous = this.#sessions.get(spec.workerId);
    this.#sessions.set(spec.workerId, session);
    const moved = previous ? previous.handOver(spec.running) : [];
    previous?.end({ superseded: true });
    try {
      await session.start(moved);
    } catch (err) {
      // NATS failed while the session started (its consumers): no half-started session stays registered.
      session.end({ failed: "the session could not start" });
      throw err;
    }
    await this.#workersKv?.put(workerKey(spec.workerId), encodeWorkerRecord(session.record(this.presenceIntervalMs))).catch(() => undefined);
    return session;
  }

  /** A session ended: it no longer answers for its worker id (unless a newer one took over). */
  closed(session: RemoteSession): void {
    if (this.#sessions.get(session.workerId) !== session) return;
    this.#sessions.delete(session.workerId);
    // Gone from the list at once, as when a TS worker stops.
    void this.#workersKv?.delete(workerKey(session.workerId)).catch(() => undefined);
  }

  /**
   * Ends every session with UNAVAILABLE (workers reconnect to another
   * broker). Their runs are no longer heartbeated here: a worker that
   * reconnects in time keeps them, others come back within 2 × the heartbeat.
   */
  stop(): void {
    this.#stopped = true;
    for (const s of [...this.#sessions.values()]) s.end({ shutdown: true });
    clearInterval(this.#liveness);
    clearInterval(this.#presence);
    this.#cancelSub?.unsubscribe();
    this.heartbeats.stop();
  }
}
