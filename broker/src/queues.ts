import type { KV } from "@nats-io/kv";
import { listWorkers, type NatsHandle, PRIORITY_LEVELS, RUN_SUBJECT_PREFIX, RUNS_STREAM, runSubject } from "@taskwire/core";

/** What waits in one (queue, task): the `GET /v1/queues` item and the `taskwire_queue_*` gauges. */
export interface QueueStat {
  queue: string;
  task: string;
  /** Runs queued and not yet delivered to a worker (all priority levels). */
  depth: number;
  /** Age of the oldest of those, in seconds (0 when none waits). */
  oldestWaitingAgeSeconds: number;
  /** Runs delivered to workers and not yet settled: executing, waiting for a slot, or waiting out a retry delay. */
  ackPending: number;
  /** Live workers serving this task on this queue (from the workers bucket). */
  workers: number;
}

/** Parses `taskwire.run.<queue>.<task>[.high|.low]`. */
function parseSubject(subject: string): { queue: string; task: string } | undefined {
  const parts = subject.split(".");
  if (parts.length < 4 || `${parts[0]}.${parts[1]}` !== RUN_SUBJECT_PREFIX) return undefined;
  const [, , queue, task, level] = parts;
  if (!queue || !task || (level !== undefined && level !== "high" && level !== "low") || parts.length > 5) return undefined;
  return { queue, task };
}

/**
 * Reads queue depths from JetStream: every task consumer's `num_pending`
 * and `num_ack_pending`, and the stored time of the first message after
 * the consumer's last delivery (the oldest waiting run). Runs of a task no
 * worker has served yet (no consumer) are counted from the stream's
 * per-subject message counts. Results are kept for `cacheMs`, and callers
 * arriving while a read runs share it, so a UI polling and Prometheus
 * scraping cost one read per interval.
 */
export class QueueStats {
  #cached: { at: number; stats: Promise<QueueStat[]> } | undefined;

  constructor(
    readonly nats: NatsHandle,
    readonly workers: KV,
    readonly cacheMs = 1_000,
  ) {}

  read(now = Date.now()): Promise<QueueStat[]> {
    const c = this.#cached;
    if (c && now - c.at < this.cacheMs) return c.stats;
    const stats = this.#read(now);
    this.#cached = { at: now, stats };
    // A failed read is not kept: the next caller tries again.
    stats.catch(() => {
      if (this.#cached?.stats === stats) this.#cached = undefined;
    });
    return stats;
  }

  async #read(now: number): Promise<QueueStat[]> {
    const byKey = new Map<string, QueueStat & { oldest: number }>();
    const entry = (queue: string, task: string): QueueStat & { oldest: number } => {
      const k = `${queue}\u0000${task}`;
      let e = byKey.get(k);
      if (!e) byKey.set(k, (e = { queue, task, depth: 0, oldestWaitingAgeSeconds: 0, ackPending: 0, workers: 0, oldest: Number.POSITIVE_INFINITY }));
      return e;
    };
    const oldestAfter = async (subject: string, seq: number): Promise<number> => (await this.nats.wire.getNextFromLeader(RUNS_STREAM, subject, seq))?.time?.getTime() ?? Number.POSITIVE_INFINITY;
    const covered = new Set<string>();
    const lookups: Promise<void>[] = [];
    for await (const ci of this.nats.jsm.consumers.list(RUNS_STREAM)) {
      const filter = ci.config.filter_subject ?? "";
      const at = parseSubject(filter);
      if (!at) continue;
      covered.add(filter);
      const e = entry(at.queue, at.task);
      e.depth += ci.num_pending;
      e.ackPending += ci.num_ack_pending;
      if (ci.num_pending > 0) {
        lookups.push(
          oldestAfter(filter, ci.delivered.stream_seq + 1).then((t) => {
            e.oldest = Math.min(e.oldest, t);
          }),
        );
      }
    }
    const info = await this.nats.jsm.streams.info(RUNS_STREAM, { subjects_filter: `${RUN_SUBJECT_PREFIX}.>` });
    for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
      const at = parseSubject(subject);
      if (!at || covered.has(subject) || count <= 0) continue;
      const e = entry(at.queue, at.task);
      e.depth += count;
      lookups.push(
        oldestAfter(subject, 1).then((t) => {
          e.oldest = Math.min(e.oldest, t);
        }),
      );
    }
    const [live] = await Promise.all([listWorkers(this.workers, now), Promise.all(lookups)]);
    for (const w of live) {
      for (const queue of w.queues) {
        for (const task of w.tasks) {
          // Only (queue, task) pairs that have a consumer or runs are listed; a worker's consumers exist once it started.
          if (PRIORITY_LEVELS.some((l) => covered.has(runSubject(queue, task, l)))) entry(queue, task).workers++;
        }
      }
    }
    return [...byKey.values()]
      .map(({ oldest, ...s }) => ({ ...s, oldestWaitingAgeSeconds: s.depth > 0 && Number.isFinite(oldest) ? Math.max(0, (now - oldest) / 1000) : 0 }))
      .sort((a, b) => a.queue.localeCompare(b.queue) || a.task.localeCompare(b.task));
  }
}
