import { Gauge, type Registry } from "prom-client";
import { createRegistry, type NatsHandle, natsConnectedGauge, PlainCounter, PlainHistogram } from "@taskwire/core";
import { AttemptOutcome, EventType, type TaskRun } from "@taskwire/protocol";

/** Run durations, in seconds: 5 ms … 1 h. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Queue waits, in seconds: 1 ms … 10 min. */
const WAIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600];

/** A crashed attempt this close before a new attempt's start was recorded by the claim that started it, in ms. */
const TAKEOVER_WINDOW_MS = 5_000;

/** The `outcome` label of the run duration for each recorded event. */
const OUTCOME_OF: Partial<Record<EventType, string>> = {
  [EventType.EVENT_TYPE_COMPLETED]: "completed",
  [EventType.EVENT_TYPE_FAILED]: "failed",
  [EventType.EVENT_TYPE_TIMED_OUT]: "timed_out",
  [EventType.EVENT_TYPE_RETRY_SCHEDULED]: "retried",
  [EventType.EVENT_TYPE_CANCELLED]: "cancelled",
};

/** What the worker's gauges read at scrape time. */
export interface WorkerGauges {
  /** Runs executing now. */
  inFlight(): number;
  /** Slots free now (concurrency − in flight). */
  freeSlots(): number;
  /** Runs pulled and waiting for a slot. */
  buffered(): number;
}

type Labels = { task: string; queue: string };

/**
 * A worker's Prometheus metrics (docs/metrics.md): attempts started and how
 * they ended, by task and queue; run durations and queue waits; runs in
 * flight and free slots. `execute.ts` reports each attempt here.
 */
export class WorkerMetrics {
  readonly registry: Registry;
  readonly #started: PlainCounter<"task" | "queue">;
  readonly #completed: PlainCounter<"task" | "queue">;
  readonly #failed: PlainCounter<"task" | "queue">;
  readonly #retried: PlainCounter<"task" | "queue">;
  readonly #timedOut: PlainCounter<"task" | "queue">;
  readonly #cancelled: PlainCounter<"task" | "queue">;
  readonly #crashed: PlainCounter<"task" | "queue">;
  readonly #duration: PlainHistogram<"task" | "queue" | "outcome">;
  readonly #wait: PlainHistogram<"task" | "queue">;

  constructor(nats: () => NatsHandle | undefined, gauges: WorkerGauges) {
    const registry = createRegistry();
    this.registry = registry;
    natsConnectedGauge(registry, nats);
    // Plain numbers per (interned) label set, read by prom-client when scraped: nothing of prom-client's on a run's path.
    const counter = (name: string, help: string): PlainCounter<"task" | "queue"> => new PlainCounter({ name, help, labelNames: ["task", "queue"], registers: [registry] });
    this.#started = counter("taskwire_worker_runs_started_total", "Attempts this worker started (claimed and began executing), by task and queue");
    this.#completed = counter("taskwire_worker_runs_completed_total", "Runs this worker recorded COMPLETED");
    this.#failed = counter("taskwire_worker_runs_failed_total", "Runs this worker recorded FAILED, retries exhausted or not retryable (a final timeout included)");
    this.#retried = counter("taskwire_worker_runs_retried_total", "Attempts that failed or timed out and were scheduled for a retry (AWAITING_RETRY)");
    this.#timedOut = counter("taskwire_worker_runs_timed_out_total", "Attempts that ran past their timeout, whether retried or final");
    this.#cancelled = counter("taskwire_worker_runs_cancelled_total", "Runs cancelled while this worker executed them");
    this.#crashed = counter("taskwire_worker_runs_crashed_total", "Attempts of dead workers that this worker found and recorded CRASHED when it took their runs over");
    this.#duration = new PlainHistogram({
      name: "taskwire_worker_run_duration_seconds",
      help: "How long an attempt's task function ran, by task, queue and outcome (completed, failed, retried, timed_out, cancelled)",
      labelNames: ["task", "queue", "outcome"],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
    this.#wait = new PlainHistogram({
      name: "taskwire_worker_queue_wait_seconds",
      help: "Time from a run being due (created, or its scheduled time) to its first attempt's start, by task and queue",
      labelNames: ["task", "queue"],
      buckets: WAIT_BUCKETS,
      registers: [registry],
    });
    new Gauge({
      name: "taskwire_worker_runs_in_flight",
      help: "Runs this worker executes now",
      registers: [registry],
      collect() {
        this.set(gauges.inFlight());
      },
    });
    new Gauge({
      name: "taskwire_worker_slots_free",
      help: "Free execution slots (concurrency − runs in flight)",
      registers: [registry],
      collect() {
        this.set(gauges.freeSlots());
      },
    });
    new Gauge({
      name: "taskwire_worker_runs_buffered",
      help: "Runs pulled from JetStream and waiting here for a free slot",
      registers: [registry],
      collect() {
        this.set(gauges.buffered());
      },
    });
  }

  /** An attempt began: counts it, its queue wait (first attempts), and the crashed attempt its claim recorded, if any. */
  started(run: TaskRun): void {
    const l = labelSet(run).labels;
    this.#started.add(l);
    const current = run.attempts.at(-1);
    const startedAt = current?.startedAt?.getTime();
    if (startedAt === undefined) return;
    if (run.attempt === 1) {
      const due = run.scheduledAt ?? run.createdAt;
      if (due) this.#wait.record(l, Math.max(0, startedAt - due.getTime()) / 1000);
    }
    const previous = run.attempts.at(-2);
    const crashedAt = previous?.finishedAt?.getTime();
    if (previous?.outcome === AttemptOutcome.ATTEMPT_OUTCOME_CRASHED && crashedAt !== undefined && startedAt - crashedAt < TAKEOVER_WINDOW_MS) this.#crashed.add(l);
  }

  /** An attempt ended and `event` was recorded (undefined: nothing written, another attempt took over). */
  finished(run: TaskRun, event: EventType | undefined, timedOut: boolean, seconds: number): void {
    const set = labelSet(run);
    const l = set.labels;
    if (timedOut) this.#timedOut.add(l);
    const outcome = event === undefined ? undefined : OUTCOME_OF[event];
    if (outcome === undefined) return;
    this.#duration.record(set.withOutcome(outcome), seconds);
    if (outcome === "completed") this.#completed.add(l);
    else if (outcome === "failed" || outcome === "timed_out") this.#failed.add(l);
    else if (outcome === "retried") this.#retried.add(l);
    else this.#cancelled.add(l);
  }
}

/** A run's labels, and the duration's with each outcome: made once per task and queue, not per attempt. */
class LabelSet {
  readonly #byOutcome = new Map<string, Labels & { outcome: string }>();
  constructor(readonly labels: Labels) {}

  withOutcome(outcome: string): Labels & { outcome: string } {
    let l = this.#byOutcome.get(outcome);
    if (!l) this.#byOutcome.set(outcome, (l = { ...this.labels, outcome }));
    return l;
  }
}
/** By task, then by queue. */
const labelSets = new Map<string, Map<string, LabelSet>>();

function labelSet(run: TaskRun): LabelSet {
  const queue = run.queue || run.options?.queue || "default";
  let byQueue = labelSets.get(run.task);
  if (!byQueue) labelSets.set(run.task, (byQueue = new Map()));
  let set = byQueue.get(queue);
  if (!set) byQueue.set(queue, (set = new LabelSet({ task: run.task, queue })));
  return set;
}
