import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { NatsHandle } from "./connection.js";

/**
 * A fresh Prometheus registry for one broker or worker: never prom-client's
 * global one, so several of them in one process (tests, `taskwire dev`)
 * keep their own series. Node's process metrics are in `processRegistry()`,
 * which `/metrics` appends.
 */
export function createRegistry(): Registry {
  return new Registry();
}

let nodeMetrics: Registry | undefined;

/**
 * Node's process metrics (`process_*`, `nodejs_*`: CPU, memory, event-loop
 * lag, GC), collected once per process however many brokers and workers it
 * runs (each collection keeps an event-loop-delay monitor running for good).
 */
export function processRegistry(): Registry {
  if (!nodeMetrics) {
    nodeMetrics = new Registry();
    collectDefaultMetrics({ register: nodeMetrics });
  }
  return nodeMetrics;
}

/** `taskwire_nats_connected`: 1 while the process's NATS connection is up, else 0. */
export function natsConnectedGauge(registry: Registry, nats: () => NatsHandle | undefined): Gauge {
  return new Gauge({
    name: "taskwire_nats_connected",
    help: "1 while this process's NATS connection is up, 0 while it is down (the process answers UNAVAILABLE or stops taking runs meanwhile)",
    registers: [registry],
    collect() {
      this.set(nats()?.connected ? 1 : 0);
    },
  });
}

type Labels<L extends string> = Readonly<Record<L, string>>;
/** What prom-client's `get()` of a counter and of a histogram resolve with (its types are not exported). */
type CounterData<L extends string> = Awaited<ReturnType<Counter<L>["get"]>>;
type HistogramData<L extends string> = Awaited<ReturnType<Histogram<L>["get"]>>;
type HistogramValue<L extends string> = HistogramData<L>["values"][number];
/**
 * The metric object a registry reads: prom-client's declared type says
 * `type` is a numeric enum and asks for `collect`, while at run time it
 * is the exposition type ("counter", "histogram") and `collect` is unused.
 */
function metricData<D>(meta: { name: string; help: string }, type: "counter" | "histogram", values: unknown[]): D {
  return { ...meta, type, aggregator: "sum", values } as unknown as D;
}

/**
 * A counter kept as plain numbers, one per label set, and handed to
 * prom-client when scraped. `add` is one Map lookup and an addition;
 * prom-client's own `inc` validates and hashes the labels of every call,
 * which was 1–2 % of a busy worker's CPU. Label sets are compared by
 * identity: callers pass the same (interned) object for the same labels.
 */
export class PlainCounter<L extends string> extends Counter<L> {
  readonly #counts = new Map<Labels<L>, number>();
  readonly #meta: { name: string; help: string };

  constructor(config: { name: string; help: string; labelNames: readonly L[]; registers: Registry[] }) {
    super(config);
    this.#meta = { name: config.name, help: config.help };
  }

  /** Adds `n` (≥ 0) to the series of `labels`. */
  add(labels: Labels<L>, n = 1): void {
    this.#counts.set(labels, (this.#counts.get(labels) ?? 0) + n);
  }

  override get(): Promise<CounterData<L>> {
    const values: CounterData<L>["values"] = [];
    for (const [labels, value] of this.#counts) values.push({ labels: { ...labels }, value });
    return Promise.resolve(metricData<CounterData<L>>(this.#meta, "counter", values));
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    if (#counts in this) this.#counts.clear();
  }
}

/** One label set's histogram: counts per bucket (not cumulative; the last is above every bound), sum, count. */
interface Series {
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * A histogram kept as plain numbers, one set of buckets per label set, and
 * handed to prom-client when scraped (see `PlainCounter`; prom-client's
 * `observe` was 1.5 % of a busy worker's CPU and 2 % of what it
 * allocated). The exposition is prom-client's: cumulative `_bucket` series
 * with `le`, then `+Inf`, `_sum` and `_count`.
 */
export class PlainHistogram<L extends string> extends Histogram<L> {
  readonly #series = new Map<Labels<L>, Series>();
  readonly #bounds: readonly number[];
  readonly #meta: { name: string; help: string };

  constructor(config: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[]; registers: Registry[] }) {
    super({ ...config, buckets: [...config.buckets] });
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
    this.#meta = { name: config.name, help: config.help };
  }

  /** Observes `value` in the series of `labels` (a non-finite value is dropped). */
  record(labels: Labels<L>, value: number): void {
    if (!Number.isFinite(value)) return;
    let s = this.#series.get(labels);
    if (!s) this.#series.set(labels, (s = { buckets: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 }));
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    s.buckets[i] = (s.buckets[i] ?? 0) + 1;
    s.sum += value;
    s.count++;
  }

  override get(): Promise<HistogramData<L>> {
    const { name } = this.#meta;
    const values: HistogramValue<L>[] = [];
    for (const [labels, s] of this.#series) {
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += s.buckets[i] ?? 0;
        values.push({ labels: { ...labels, le } as HistogramValue<L>["labels"], value: acc, metricName: `${name}_bucket` });
      });
      values.push({ labels: { ...labels, le: "+Inf" } as HistogramValue<L>["labels"], value: s.count, metricName: `${name}_bucket` });
      values.push({ labels: { ...labels }, value: s.sum, metricName: `${name}_sum` });
      values.push({ labels: { ...labels }, value: s.count, metricName: `${name}_count` });
    }
    return Promise.resolve(metricData<HistogramData<L>>(this.#meta, "histogram", values));
  }

  /** What the registry formats as text: the same as `get()` (prom-client's own would read its unused internal map). */
  getForPromString(): Promise<HistogramData<L>> {
    return this.get();
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    if (#series in this) this.#series.clear();
  }
}
