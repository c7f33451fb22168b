// taskwire benchmark suite (issue 4). Run through bench/run.sh (`make bench`,
// `make bench-quick`), or directly:
//   node --conditions=taskwire-source --import tsx bench/src/main.ts [--quick] [--profile] [--skip-bullmq]
// Starts every server it needs on 127.0.0.1 with temporary stores, measures
// taskwire next to its ceilings and BullMQ in the same run, prints one table
// and writes bench/results/latest.json plus a timestamped copy.
//
// Both modes run every phase, in the order below; --quick runs them shorter
// and smaller (settings.ts). --skip-bullmq leaves out redis-server and the
// BullMQ phase (the table's BullMQ columns are then empty).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@taskwire/client";
import { bullmq } from "./phases/bullmq.js";
import { costPerRun } from "./phases/cost.js";
import { workerDrain } from "./phases/drain.js";
import { workerLanguages } from "./phases/languages.js";
import { listingAtScale } from "./phases/listing.js";
import { e2eBursts } from "./phases/e2e.js";
import { grpcCeiling } from "./phases/grpc-ceiling.js";
import { jetstreamCeiling } from "./phases/jetstream-ceiling.js";
import { brokerMemory } from "./phases/memory.js";
import { e2ePaced, submitOpenLoop } from "./phases/paced.js";
import { submitBatchThroughput, submitThroughput } from "./phases/submit.js";
import { type Mode, RESULTS_DIR, writeListing, writeResults } from "./report/results.js";
import { purge } from "./runs.js";
import { type Redis, startNats, startRedis } from "./servers.js";
import { FULL_SETTINGS, QUICK_SETTINGS } from "./settings.js";
import { type Broker, connectStack, type Stack, startBroker, startWorker, stopBroker } from "./stack.js";
import { BENCH, type Child, killAllChildrenSync, log, machineInfo, stopAllChildren } from "./util.js";

const argv = new Set(process.argv.slice(2));
const MODE: Mode = argv.has("--quick") ? "quick" : "full";
const PROFILE = argv.has("--profile");
const SKIP_BULLMQ = argv.has("--skip-bullmq");
/** Only the listing phase (seeding s.listN runs), its figures logged and written to bench/results/listing-<mode>.json. */
const LISTING_ONLY = argv.has("--listing-only");
const S = MODE === "quick" ? QUICK_SETTINGS : FULL_SETTINGS;
const PROF_DIR = join(BENCH, "results", "profiles", new Date().toISOString().replace(/[:.]/g, "-"));

async function main(): Promise<void> {
  const started = Date.now();
  mkdirSync(RESULTS_DIR, { recursive: true });
  if (PROFILE) mkdirSync(PROF_DIR, { recursive: true });
  log(`mode ${MODE}; settings ${JSON.stringify(S)}`);
  const nats = await startNats();
  let redis: Redis | undefined;
  let stack: Stack | undefined;
  let broker: Broker | undefined;
  let worker: Child | undefined;
  try {
    redis = SKIP_BULLMQ ? undefined : await startRedis();
    const machine = machineInfo(nats.bin, redis?.bin ?? "redis-server");
    log(`machine ${JSON.stringify(machine)}`);
    stack = await connectStack(nats, PROFILE ? PROF_DIR : undefined);
    if (LISTING_ONLY) {
      writeListing(MODE, await listingAtScale(S, stack));
      return;
    }

    // 1. Ceilings: raw JetStream, raw grpc-js; no taskwire.
    const ceilings = { ...(await jetstreamCeiling(S, nats)), ...(await grpcCeiling(S)) };

    // 2. Submit, a broker and no worker: closed loops, open loop, SubmitBatch.
    broker = await startBroker(stack);
    const throughput = await submitThroughput(S, stack, broker);
    const open = await submitOpenLoop(S, stack, broker);
    const batch = await submitBatchThroughput(S, stack, broker);
    await stopBroker(broker);
    broker = undefined;

    // 3. Broker memory with runs queued (a fresh broker of its own).
    const memory = await brokerMemory(S, stack);

    // 4. A broker and a worker: NATS cost per run, end-to-end bursts, paced runs.
    broker = await startBroker(stack);
    await purge(stack.jsm);
    worker = await startWorker(stack);
    const cost = await costPerRun(S, stack, broker);
    const coalescing = new Client({ address: broker.client.address });
    const pids = { broker: broker.child.proc.pid!, worker: worker.proc.pid!, natsServer: nats.child.proc.pid! };
    const bursts = await e2eBursts(S, stack, coalescing, broker.client, pids);
    const paced = await e2ePaced(S, stack, broker.client);
    coalescing.close();
    await worker.stop();
    worker = undefined;

    // 5. Worker drain: runs preloaded, then a worker of its own.
    const drain = await workerDrain(S, stack, broker);

    // 5b. The same drain through a TS, a Python and a Go worker (the last two over WorkerService).
    const languages = await workerLanguages(S, stack, broker);
    await stopBroker(broker);
    broker = undefined;

    // 6. ListRuns with s.listN runs retained (seeded), a broker of its own.
    const listing = await listingAtScale(S, stack);

    // 7. The peer: BullMQ on redis-server.
    const bull = redis ? await bullmq(S, redis) : undefined;

    writeResults(MODE, S, machine, started, { ceilings, submit: { ...throughput, open, batch }, memory, costPerRun: cost, e2e: { ...bursts, paced }, drain, languages, listing, bullmq: bull });
  } finally {
    await worker?.stop().catch(() => {});
    broker?.client.close();
    await broker?.child.stop().catch(() => {});
    await stack?.nc.close().catch(() => {});
    await stopAllChildren();
    await redis?.stop().catch(() => {});
    await nats.stop().catch(() => {});
  }
}

process.on("exit", killAllChildrenSync);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    killAllChildrenSync();
    process.exit(130);
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
    void stopAllChildren().finally(() => process.exit(1));
  },
);
