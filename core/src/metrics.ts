import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
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
