import type { Broker, BrokerConfig } from "@taskwire/broker";
import { Client } from "@taskwire/client";
import type { AnyTask, Worker, WorkerOptions } from "@taskwire/worker";
import { startBroker, startNats, startWorker } from "./env.js";

/** What a suite's stack is made of. */
export interface StackSpec {
  /** Brokers on the one nats-server. @default 1 */
  brokers?: number;
  /** Broker settings (over the test defaults of env.ts). */
  broker?: Partial<BrokerConfig>;
  /** Tasks the workers serve; no workers when empty. @default [] */
  tasks?: AnyTask[];
  /** Workers serving `tasks`. @default 1 when there are tasks */
  workers?: number;
  /** Worker options (over the test defaults of env.ts). */
  worker?: WorkerOptions;
}

/** A running stack: nats-server, brokers, workers, and a client of the first broker. */
export interface Stack {
  readonly nats: Awaited<ReturnType<typeof startNats>>;
  readonly brokers: Broker[];
  readonly workers: Worker[];
  /** The first broker. */
  readonly broker: Broker;
  /** The first worker. */
  readonly worker: Worker;
  /** A client of the first broker. */
  readonly client: Client;
}

/** Starts a whole stack: a nats-server on a free port with a temporary store, the brokers, the workers, a client. */
export async function startStack(spec: StackSpec = {}): Promise<Stack & { stop(): Promise<void> }> {
  const nats = await startNats();
  const brokers: Broker[] = [];
  const workers: Worker[] = [];
  let client: Client | undefined;
  const stop = async (): Promise<void> => {
    client?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all(brokers.map((b) => b.stop()));
    await nats.cleanup();
  };
  try {
    for (let i = 0; i < (spec.brokers ?? 1); i++) brokers.push(await startBroker(nats.url, spec.broker));
    const tasks = spec.tasks ?? [];
    const n = tasks.length === 0 ? 0 : (spec.workers ?? 1);
    for (let i = 0; i < n; i++) workers.push(await startWorker(nats.url, tasks, spec.worker));
    client = new Client({ address: brokers[0]?.address });
  } catch (err) {
    await stop();
    throw err;
  }
  const c = client;
  const first = <T>(xs: T[], what: string): T => {
    const x = xs[0];
    if (x === undefined) throw new Error(`this stack has no ${what}`);
    return x;
  };
  return {
    nats,
    brokers,
    workers,
    get broker() {
      return first(brokers, "broker");
    },
    get worker() {
      return first(workers, "worker");
    },
    client: c,
    stop,
  };
}

/**
 * One stack for the current `describe`: started in its `before` hook and
 * stopped in its `after` hook, so suites do not copy setup and teardown.
 * Read it from inside hooks and tests (it does not exist before `before`).
 */
export function useStack(spec: StackSpec | (() => StackSpec) = {}): Stack {
  let current: (Stack & { stop(): Promise<void> }) | undefined;
  before(async function () {
    current = await startStack(typeof spec === "function" ? spec() : spec);
  });
  after(async function () {
    await current?.stop();
  });
  const get = (): Stack => {
    if (!current) throw new Error("the stack starts in the suite's before hook; use it inside hooks and tests");
    return current;
  };
  return {
    get nats() {
      return get().nats;
    },
    get brokers() {
      return get().brokers;
    },
    get workers() {
      return get().workers;
    },
    get broker() {
      return get().broker;
    },
    get worker() {
      return get().worker;
    },
    get client() {
      return get().client;
    },
  };
}
