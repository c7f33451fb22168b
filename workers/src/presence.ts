import { hostname } from "node:os";
import type { KV } from "@nats-io/kv";
import { encodeWorkerRecord, WORKER_RECORD_INTERVAL_MS, type WorkerRecord, workerKey } from "@taskwire/core";
import type { Logger } from "pino";

/** Most run ids one record lists. */
const MAX_RUN_IDS = 100;

/** What the record says about the worker now. */
export interface PresenceSource {
  id: string;
  tasks: string[];
  queues: string[];
  concurrency: number;
  /** Ids of the runs executing now. */
  runIds(): string[];
}

/**
 * Keeps this worker's record in the `taskwire_workers` bucket (see
 * core/src/worker-registry.ts): written at start and then every
 * min(heartbeat, 5 s), deleted at stop, so `GET /v1/workers` and the UI
 * list live workers and what they run. A failed write is only logged: the
 * next one fixes it, and runs never depend on it.
 */
export class Presence {
  readonly #intervalMs: number;
  readonly #startedAt = new Date().toISOString();
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;

  constructor(
    readonly kv: KV,
    readonly source: PresenceSource,
    heartbeatMs: number,
    readonly log: Logger,
  ) {
    this.#intervalMs = Math.min(heartbeatMs, WORKER_RECORD_INTERVAL_MS);
  }

  async start(): Promise<void> {
    await this.#write();
    this.#timer = setInterval(() => {
      this.#writing ??= this.#write().finally(() => (this.#writing = undefined));
    }, this.#intervalMs);
    this.#timer.unref();
  }

  #record(): WorkerRecord {
    const s = this.source;
    const ids = s.runIds();
    return {
      id: s.id,
      host: hostname(),
      pid: process.pid,
      tasks: s.tasks,
      queues: s.queues,
      concurrency: s.concurrency,
      running: ids.length,
      runIds: ids.slice(0, MAX_RUN_IDS),
      lastSeen: new Date().toISOString(),
      startedAt: this.#startedAt,
      intervalMs: this.#intervalMs,
    };
  }

  async #write(): Promise<void> {
    try {
      await this.kv.put(workerKey(this.source.id), encodeWorkerRecord(this.#record()));
    } catch (err) {
      this.log.debug({ err }, "could not write this worker's record to the workers bucket; the next heartbeat tries again");
    }
  }

  /** Stops writing and removes the record: the worker is gone from the list at once. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#writing;
    try {
      await this.kv.delete(workerKey(this.source.id));
    } catch {
      // NATS is gone already: the record ages out (three intervals, then the bucket's max_age).
    }
  }
}
