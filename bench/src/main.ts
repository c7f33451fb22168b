// taskwire benchmark suite (issue 4). Run through bench/run.sh (`make bench`,
// `make bench-quick`), or directly:
//   node --conditions=taskwire-source --import tsx bench/src/main.ts [--quick] [--profile] [--skip-bullmq] [--only=scale,multi]
// Starts every server it needs on 127.0.0.1 with temporary stores, measures
// taskwire next to its ceilings and BullMQ in the same run, prints one table
// and writes bench/results/latest.json plus a timestamped copy.
//
// Both modes run every phase, in the order below; --quick runs them shorter
// and smaller (settings.ts). --skip-bullmq leaves out redis-server and the
// BullMQ phase (the table's BullMQ columns are then empty). --only=<phases>
// runs just the named phases (PHASES), in the same order, and writes
// bench/results/only-<mode>.json: for working on one phase without running
// (and waiting for) the rest.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@taskwire/client";
import { bullmq } from "./phases/bullmq.js";
import { costPerRun } from "./phases/cost.js";
import { workerDrain } from "./phases/drain.js";
import { startFold } from "./phases/fold.js";
import { workerLanguages } from "./phases/languages.js";
import { listingAtScale } from "./phases/listing.js";
import { e2eBursts } from "./phases/e2e.js";
import { grpcCeiling } from "./phases/grpc-ceiling.js";
import { jetstreamCeiling } from "./phases/jetstream-ceiling.js";
import { drainFloor } from "./phases/drain-floor.js";
import { e2eFloor } from "./phases/e2e-floor.js";
import { brokerMemory } from "./phases/memory.js";
import { multiProcess } from "./phases/multi.js";
import { e2ePaced, submitOpenLoop } from "./phases/paced.js";
import { scaleQueue } from "./phases/scale.js";
import { submitBatchThroughput, submitThroughput } from "./phases/submit.js";
import { type Mode, RESULTS_DIR, writeListing, writeResults } from "./report/results.js";
import type { Figures } from "./report/rows.js";
import { purge } from "./runs.js";
import { type Redis, startNats, startRedis } from "./servers.js";
import { FULL_SETTINGS, QUICK_SETTINGS } from "./settings.js";
import { type Broker, connectStack, type Stack, startBroker, startWorker, stopBroker } from "./stack.js";
import { BENCH, type Child, cpuSeconds, killAllChildrenSync, log, machineInfo, stopAllChildren } from "./util.js";

/** The phases, in the order they run; the names --only takes. */
const PHASES = ["ceilings", "floor", "floor-e2e", "submit", "memory", "cost", "e2e", "drain", "fold", "languages", "scale", "multi", "listing", "bullmq"] as const;
type Phase = (typeof PHASES)[number];

const argv = new Set(process.argv.slice(2));
const MODE: Mode = argv.has("--quick") ? "quick" : "full";
const PROFILE = argv.has("--profile");
const SKIP_BULLMQ = argv.has("--skip-bullmq");
/** Only the listing phase (seeding s.listN runs), its figures logged and written to bench/results/listing-<mode>.json. */
const LISTING_ONLY = argv.has("--listing-only");
const ONLY = parseOnly(process.argv.slice(2));
const S = MODE === "quick" ? QUICK_SETTINGS : FULL_SETTINGS;
const PROF_DIR = join(BENCH, "results", "profiles", new Date().toISOString().replace(/[:.]/g, "-"));

/** `--only=a,b`: those phases (checked against PHASES, so a typo fails at once, not after minutes); undefined without the flag. */
function parseOnly(args: string[]): Set<Phase> | undefined {
  const flag = args.find((a) => a.startsWith("--only="));
  if (!flag) return undefined;
  const names = flag.slice("--only=".length).split(",").map((n) => n.trim()).filter((n) => n);
  const unknown = names.filter((n) => !(PHASES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) throw new Error(`--only: unknown phase(s) ${JSON.stringify(unknown)}; phases: ${PHASES.join(",")}`);
  return new Set(names as Phase[]);
}

const want = (p: Phase): boolean => !ONLY || ONLY.has(p);

async function main(): Promise<void> {
  const started = Date.now();
  mkdirSync(RESULTS_DIR, { recursive: true });
  if (PROFILE) mkdirSync(PROF_DIR, { recursive: true });
  log(`mode ${MODE}; ${ONLY ? `phases ${[...ONLY].join(",")}; ` : ""}settings ${JSON.stringify(S)}`);
  const nats = await startNats();
  let redis: Redis | undefined;
  let stack: Stack | undefined;
  let broker: Broker | undefined;
  let worker: Child | undefined;
  try {
    redis = SKIP_BULLMQ || !want("bullmq") ? undefined : await startRedis();
    const machine = machineInfo(nats.bin, redis?.bin ?? "redis-server");
    log(`machine ${JSON.stringify(machine)}`);
    stack = await connectStack(nats, PROFILE ? PROF_DIR : undefined);
    if (LISTING_ONLY) {
      writeListing(MODE, await listingAtScale(S, stack));
      return;
    }
    const f: Partial<Figures> = {};

    // 1. Ceilings: raw JetStream, raw grpc-js; no taskwire.
    if (want("ceilings")) f.ceilings = { ...(await jetstreamCeiling(S, nats)), ...(await grpcCeiling(S)) };

    // 1b. Floor: a run's claim and outcome NATS operations alone, no taskwire logic.
    if (want("floor")) f.floor = await drainFloor(nats, S.rawN / 5, () => (nats.child.proc.pid ? cpuSeconds(nats.child.proc.pid) * 1000 : undefined));

    // 1c. The end-to-end floor: the design's operations alone (raw grpc-js broker, raw NATS worker), burst and paced.
    if (want("floor-e2e")) f.floorE2E = await e2eFloor(S, nats, stack);

    // 2. Submit, a broker and no worker: closed loops, open loop, SubmitBatch.
    if (want("submit")) {
      broker = await startBroker(stack);
      const throughput = await submitThroughput(S, stack, broker);
      const open = await submitOpenLoop(S, stack, broker);
      const batch = await submitBatchThroughput(S, stack, broker);
      f.submit = { ...throughput, open, batch };
      await stopBroker(broker);
      broker = undefined;
    }

    // 3. Broker memory with runs queued (a fresh broker of its own).
    if (want("memory")) f.memory = await brokerMemory(S, stack);

    // 4. A broker and a worker: NATS cost per run, end-to-end bursts, paced runs.
    if (want("cost") || want("e2e") || want("drain") || want("fold") || want("languages")) {
      broker = await startBroker(stack);
      await purge(stack.jsm);
    }
    if (broker && (want("cost") || want("e2e"))) {
      worker = await startWorker(stack);
      if (want("cost")) f.costPerRun = await costPerRun(S, stack, broker);
      if (want("e2e")) {
        // TASKWIRE_BENCH_SUBMIT_STREAM=0: the default client without its SubmitStream (unary SubmitBatch per turn), for A/B runs.
        const coalescing = new Client({ address: broker.client.address, submitStream: process.env.TASKWIRE_BENCH_SUBMIT_STREAM !== "0" });
        const pids = { broker: broker.child.proc.pid!, worker: worker.proc.pid!, natsServer: nats.child.proc.pid!, loadGenerator: process.pid };
        const bursts = await e2eBursts(S, stack, coalescing, broker.client, pids);
        // Paced through the default client too, as an application submits (over its SubmitStream).
        const paced = await e2ePaced(S, stack, coalescing, pids);
        // The same with one unary Submit call per run (`submitStream: false`, and what runs before 2 Dec 11:00 measured).
        const pacedUnary = await e2ePaced(S, stack, broker.client, pids);
        f.e2e = { ...bursts, paced, pacedUnary };
        coalescing.close();
      }
      await worker.stop();
      worker = undefined;
    }

    // 5. Worker drain: runs preloaded, then a worker of its own.
    if (broker && want("drain")) f.drain = await workerDrain(S, stack, broker);

    // 5a. The same burst, paced runs and drain with the worker's opt-in fold of short attempts' starts.
    if (broker && want("fold")) f.fold = await startFold(S, stack, broker);

    // 5b. The same drain through a TS, a Python and a Go worker (the last two over WorkerService).
    if (broker && want("languages")) f.languages = await workerLanguages(S, stack, broker);
    if (broker) {
      await stopBroker(broker);
      broker = undefined;
    }

    // 6. Scale: s.scaleN runs queued, drained and retained (a broker and a worker of its own).
    if (want("scale")) f.scale = await scaleQueue(S, stack);

    // 7. Several brokers and workers (their own), next to phase 4's single pair.
    if (want("multi")) f.multi = await multiProcess(S, stack, f.e2e);

    // 8. ListRuns with s.listN runs retained (seeded), a broker of its own.
    if (want("listing")) f.listing = await listingAtScale(S, stack);

    // 9. The peer: BullMQ on redis-server.
    if (redis) f.bullmq = await bullmq(S, redis);

    writeResults(MODE, S, machine, started, f, ONLY && [...ONLY]);
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
