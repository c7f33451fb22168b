// The system under test: nats-server (servers.ts) with the bench's own
// connection, and the taskwire broker and worker processes, run from the
// compiled CLI as deployed (bench/run.sh builds it), not through tsx.
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Client } from "@taskwire/client";
import { RUNS_STREAM, taskConsumerName } from "@taskwire/core";
import { freePort, type Nats } from "./servers.js";
import { CONC, TASK } from "./settings.js";
import { BENCH, type Child, portOpen, REPO, startChild, waitFor } from "./util.js";

const CLI = join(REPO, "cli/dist/main.js");

/** nats-server, the bench's connection to it, and where broker and worker write CPU profiles (--profile). */
export interface Stack {
  nats: Nats;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  profileDir: string | undefined;
}

export async function connectStack(nats: Nats, profileDir: string | undefined): Promise<Stack> {
  const nc = await connect({ servers: nats.url, name: "bench" });
  return { nats, nc, js: jetstream(nc), jsm: await jetstreamManager(nc), profileDir };
}

/**
 * V8 flags of every Node process under test — broker and worker, and
 * their peers BullMQ's worker and the grpc-js echo server alike: the Helm
 * chart's default young generation (`semiSpaceMiB: 32`, docs/deploy.md),
 * so the bench measures what the chart deploys.
 */
export const DEPLOYED_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=32"];

/** Node flags of broker and worker processes: DEPLOYED_NODE_FLAGS, CPU profiles with --profile, and TASKWIRE_BENCH_NODE_FLAGS (space separated, e.g. --trace-gc). */
function nodeFlags(stack: Stack, name: string): string[] {
  const extra = (process.env.TASKWIRE_BENCH_NODE_FLAGS ?? "").split(" ").filter((f) => f);
  return [...DEPLOYED_NODE_FLAGS, ...extra, ...(stack.profileDir ? ["--cpu-prof", "--cpu-prof-dir", stack.profileDir, "--cpu-prof-name", `${name}.cpuprofile`] : [])];
}

export interface Broker {
  child: Child;
  address: string;
  /** Unary Submits (coalesceSubmits: false), what the echo ceiling compares. */
  client: Client;
}

export async function startBroker(stack: Stack, name = "broker"): Promise<Broker> {
  const port = await freePort();
  const child = startChild(name, process.execPath, [...nodeFlags(stack, name), CLI, "broker", "--listen", `127.0.0.1:${port}`, "--nats", stack.nats.url], { TASKWIRE_LOG_LEVEL: "warn", TASKWIRE_HTTP_LISTEN: "127.0.0.1:0" });
  const address = `127.0.0.1:${port}`;
  // Unary Submits for the Submit phases (what the echo ceiling compares):
  // no coalescing. The e2e phase adds a default client next to it.
  const client = new Client({ address, coalesceSubmits: false });
  try {
    await waitFor(async () => {
      if (child.proc.exitCode !== null) throw new Error(`broker exited: ${child.output()}`);
      return portOpen(port);
    }, `${name} port`, 60_000);
    // Ready when it answers from NATS (NOT_FOUND for an unknown run).
    await waitFor(async () => {
      try {
        await client.getStatus(randomUUID());
      } catch (err) {
        const code = (err as { code?: number }).code;
        return code === 5 || code === 3; // NOT_FOUND / INVALID_ARGUMENT: answered past the NATS check
      }
      return false;
    }, `${name} ready`, 60_000, 100);
  } catch (err) {
    // Not left running behind a failed start.
    client.close();
    await child.stop();
    throw err;
  }
  return { child, address, client };
}

export async function stopBroker(broker: Broker): Promise<void> {
  broker.client.close();
  await broker.child.stop();
}

/**
 * A worker serving bench/src/tasks.ts at concurrency CONC; ready once it
 * pulls from the task's consumer: once the consumer has `minWaiting` pull
 * requests waiting (the k-th of several workers started one after the
 * other waits for k; each keeps one waiting while idle).
 */
/** Starts a worker process and waits until it pulls; `spawned` is told its process at once (before it is ready). */
export async function startWorker(stack: Stack, name = "worker", minWaiting = 1, env: Record<string, string> = {}, spawned?: (child: Child) => void): Promise<Child> {
  const child = startChild(name, process.execPath, [...nodeFlags(stack, name), CLI, "worker", join(BENCH, "src/tasks.ts"), "--concurrency", String(CONC), "--nats", stack.nats.url], { TASKWIRE_LOG_LEVEL: "warn", ...env });
  spawned?.(child);
  try {
    await waitFor(async () => {
      if (child.proc.exitCode !== null) throw new Error(`worker exited: ${child.output()}`);
      const ci = await stack.jsm.consumers.info(RUNS_STREAM, taskConsumerName("default", TASK));
      return ci.num_waiting >= minWaiting;
    }, `${name} ready`, 60_000, 100);
  } catch (err) {
    await child.stop(); // not left running behind a failed start
    throw err;
  }
  return child;
}
