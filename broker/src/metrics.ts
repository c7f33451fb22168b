import { status as Status } from "@grpc/grpc-js";
import { Counter, Gauge, type Registry } from "prom-client";
import { createRegistry, type NatsHandle, natsConnectedGauge, PlainCounter, PlainHistogram } from "@taskwire/core";
import type { TaskRun } from "@taskwire/protocol";
import type { Logger } from "pino";
import type { QueueStat, QueueStats } from "./queues.js";

/** Buckets of RPC latency, in seconds: 0.5 ms … 10 s (a waiting GetStatus lands above). */
const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The gRPC code's name (`OK`, `INVALID_ARGUMENT`, …), the `code` label's value. */
export function codeName(code: number | undefined): string {
  return Status[code ?? Status.UNKNOWN] ?? String(code);
}

/** What the queue gauges need: the stats, and whether this broker is the one exporting them. */
export interface QueueSource {
  stats: QueueStats;
  /** True while this broker holds the queue-metrics lease. */
  exporting(): boolean;
}

/**
 * The broker's Prometheus metrics (docs/metrics.md). RPCs are counted in
 * one place, `instrumentService` (instrument.ts), for gRPC and JSON API
 * calls alike; queue gauges are read from JetStream at scrape time by the
 * one broker that holds the queue-metrics lease.
 */
export class BrokerMetrics {
  readonly registry: Registry;
  readonly rpcDuration: PlainHistogram<"method" | "code">;
  readonly openStreams: Gauge<"method">;
  readonly streams: Counter<"method" | "code">;
  readonly submits: PlainCounter<"task" | "queue" | "result">;
  readonly httpRequests: Counter<"route" | "code">;
  #queues: QueueSource | undefined;

  constructor(
    nats: () => NatsHandle | undefined,
    readonly log: Logger,
  ) {
    const registry = createRegistry();
    this.registry = registry;
    natsConnectedGauge(registry, nats);
    // Plain numbers per interned label set (`PlainHistogram`, `PlainCounter`): nothing of prom-client on a call's path.
    this.rpcDuration = new PlainHistogram({
      name: "taskwire_rpc_server_duration_seconds",
      help: "Time from a unary RPC's arrival to its answer, by method and gRPC code (JSON API calls included: they run the same handlers)",
      labelNames: ["method", "code"],
      buckets: RPC_BUCKETS,
      registers: [registry],
    });
    this.openStreams = new Gauge({ name: "taskwire_rpc_server_open_streams", help: "Streaming calls open now: StreamEvents (gRPC and server-sent events), SubmitStream", labelNames: ["method"], registers: [registry] });
    this.streams = new Counter({ name: "taskwire_rpc_server_streams_total", help: "Streaming RPCs that ended, by method and gRPC code", labelNames: ["method", "code"], registers: [registry] });
    this.submits = new PlainCounter({
      name: "taskwire_submits_total",
      help: "Runs accepted by Submit, SubmitBatch and SubmitStream, by task, queue and result: created (a new run), deduplicated (an idempotency key's existing run), cached (completed at once from the result cache)",
      labelNames: ["task", "queue", "result"],
      registers: [registry],
    });
    this.httpRequests = new Counter({ name: "taskwire_http_requests_total", help: "Requests to the broker's JSON API, by route and HTTP status", labelNames: ["route", "code"], registers: [registry] });

    // prom-client calls collect() with the gauge as `this`; the queue source is reached through this arrow.
    const source = (): QueueSource | undefined => this.#queues;
    const stats = async (): Promise<QueueStat[] | undefined> => {
      const q = source();
      if (!q?.exporting()) return undefined;
      try {
        return await q.stats.read();
      } catch (err) {
        log.warn({ err }, "could not read queue depths from JetStream for /metrics");
        return undefined;
      }
    };
    const queueGauge = (name: string, help: string, value: (s: QueueStat) => number): Gauge<"queue" | "task"> =>
      new Gauge({
        name,
        help,
        labelNames: ["queue", "task"],
        registers: [registry],
        async collect() {
          this.reset();
          for (const s of (await stats()) ?? []) this.set({ queue: s.queue, task: s.task }, value(s));
        },
      });
    queueGauge("taskwire_queue_depth", "Runs queued and not yet delivered to a worker, per queue and task (exported by one broker: the queue-metrics lease holder)", (s) => s.depth);
    queueGauge("taskwire_queue_oldest_waiting_age_seconds", "Age of the oldest run waiting for a worker, per queue and task; 0 when none waits", (s) => s.oldestWaitingAgeSeconds);
    queueGauge("taskwire_queue_ack_pending", "Runs delivered to workers and not settled (executing, waiting for a slot, or waiting out a retry delay), per queue and task", (s) => s.ackPending);
    queueGauge("taskwire_queue_workers", "Live workers serving the task on the queue", (s) => s.workers);
    new Gauge({
      name: "taskwire_queue_metrics_exporter",
      help: "1 on the broker that exports the taskwire_queue_* gauges (holds the lease), 0 on the others",
      registers: [registry],
      collect() {
        this.set(source()?.exporting() ? 1 : 0);
      },
    });
  }

  /** Turns the queue gauges on (the broker calls this once NATS resources exist). */
  setQueues(q: QueueSource): void {
    this.#queues = q;
  }

  /** The label sets of `submits` by task, queue and result, interned (`PlainCounter` compares them by identity). */
  readonly #submitLabels = new Map<string, { task: string; queue: string; result: string }>();

  /** Counts the run a Submit (or a batch item) answered with. */
  submitted(run: TaskRun | undefined, deduplicated: boolean): void {
    if (!run) return;
    const queue = run.queue || "default";
    const result = deduplicated ? "deduplicated" : run.cached ? "cached" : "created";
    const key = `${run.task}\u0000${queue}\u0000${result}`;
    let labels = this.#submitLabels.get(key);
    if (!labels) this.#submitLabels.set(key, (labels = { task: run.task, queue, result }));
    this.submits.add(labels);
  }
}
