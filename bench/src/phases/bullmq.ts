// The peer: BullMQ on redis-server (AOF, fsync every second), the same
// no-op job, payload and concurrency, its worker in its own process
// (bench/src/bullmq-worker.ts). The same measurements as taskwire's: a
// burst of s.e2eN jobs, the paced run, addBulk, and a worker draining
// preloaded jobs.
import { join } from "node:path";
import { type JobsOptions, Queue } from "bullmq";
import type { Sent } from "../runs.js";
import type { Redis } from "../servers.js";
import { CONC, type Settings } from "../settings.js";
import { DEPLOYED_NODE_FLAGS } from "../stack.js";
import { BENCH, type Child, closedLoop, cpuMeter, log, MS_TRUNCATION, openLoop, PAYLOAD, type PacedCosts, pacedMeter, type Pcts, pcts, round, roundValues, startTsChild, waitFor, wallNow } from "../util.js";

export interface BullmqFigures {
  addRate: number;
  completedRate: number;
  completed: number;
  dispatch: Pcts;
  e2e: Pcts;
  /** CPU ms per job: worker, redis. */
  cpuMsPerJob: Record<string, number>;
  /** Paced at s.pacedRate: latencies, and CPU ms per job of worker, redis and the load generator while the jobs were added. */
  paced: { completed: number; sent: number; dispatch: Pcts; e2e: Pcts; cpuMsPerJob: Record<string, number>; wakeupsPerJob: Record<string, number>; loadGeneratorLoopDelay: PacedCosts["loadGeneratorLoopDelay"] };
  bulkRate: number;
  drainRate: number;
}

const QUEUE = "bench";
const JOB_OPTS: JobsOptions = { removeOnComplete: false, removeOnFail: false };

function startBullWorker(redis: Redis, name: string): Child {
  return startTsChild(name, join(BENCH, "src/bullmq-worker.ts"), [String(redis.port), QUEUE, String(CONC)], {}, [...DEPLOYED_NODE_FLAGS]);
}

export async function bullmq(s: Settings, redis: Redis): Promise<BullmqFigures> {
  const queue = new Queue(QUEUE, { connection: { host: "127.0.0.1", port: redis.port, maxRetriesPerRequest: null } });
  const wq = startBullWorker(redis, "bullmq-worker");
  try {
    await queue.waitUntilReady();
    await waitFor(() => wq.output().includes("ready") || (wq.proc.exitCode !== null && Promise.reject(new Error(wq.output()))), "bullmq worker", 60_000, 50);
    await closedLoop(CONC, 2_000, 10_000, async () => void (await queue.add("noop", PAYLOAD, JOB_OPTS))); // warm-up
    await waitFor(async () => (await queue.getJobCounts("completed")).completed >= 2_000, "bullmq warm-up", 60_000, 50);
    await queue.clean(0, 1_000_000, "completed");

    const pids = { worker: wq.proc.pid!, redis: redis.child.proc.pid! };
    const burst = await bullBurst(s, queue, pids);
    const paced = await bullPaced(s, queue, { ...pids, loadGenerator: process.pid });

    log(`bullmq: addBulk of ${s.batchSize}, ${s.batchConc} concurrent, ${s.batchMs} ms (worker stopped)`);
    await wq.stop();
    await queue.obliterate({ force: true });
    const bulk = Array.from({ length: s.batchSize }, () => ({ name: "noop", data: PAYLOAD, opts: JOB_OPTS }));
    const b = await closedLoop(s.batchConc, 10_000_000, s.batchMs, async () => void (await queue.addBulk(bulk)));
    const bulkRate = ((b.done * s.batchSize) / b.ms) * 1000;
    log(`  ${round(bulkRate, 0)} jobs/s`);
    await queue.obliterate({ force: true });

    const drainRate = await bullDrain(s, redis, queue, bulk);
    await queue.obliterate({ force: true });
    return { ...burst, paced, bulkRate, drainRate };
  } finally {
    await wq.stop();
    await queue.close();
  }
}

async function bullBurst(s: Settings, queue: Queue, pids: Record<string, number>): Promise<Pick<BullmqFigures, "addRate" | "completedRate" | "completed" | "dispatch" | "e2e" | "cpuMsPerJob">> {
  log(`bullmq: ${s.e2eN} no-op jobs, add concurrency ${CONC}, worker concurrency ${CONC}`);
  const cpu0 = cpuMeter(pids);
  const sent = new Map<string, Sent>();
  const r = await closedLoop(CONC, s.e2eN, 300_000, async () => {
    const start = wallNow();
    const job = await queue.add("noop", PAYLOAD, JOB_OPTS);
    sent.set(job.id!, { start, accepted: wallNow() });
  });
  const addRate = (r.done / r.ms) * 1000;
  await waitFor(async () => (await queue.getJobCounts("completed")).completed >= r.done, "bullmq jobs completed", 600_000, 20);
  const cpu = cpu0.msPer(r.done);
  const lat = await bullLatencies(queue, sent);
  const completedRate = (lat.completed / (lat.lastFinish - lat.firstStart)) * 1000;
  log(`  added ${round(addRate, 0)}/s, completed ${lat.completed} at ${round(completedRate, 0)}/s; dispatch p50 ${round(lat.dispatch.p50)} p99 ${round(lat.dispatch.p99)}; e2e p50 ${round(lat.e2e.p50)} p99 ${round(lat.e2e.p99)} ms; CPU ms/job ${JSON.stringify(roundValues(cpu, 3))}`);
  await queue.clean(0, 10_000_000, "completed");
  return { addRate, completedRate, completed: lat.completed, dispatch: lat.dispatch, e2e: lat.e2e, cpuMsPerJob: cpu };
}

async function bullPaced(s: Settings, queue: Queue, pids: Record<string, number>): Promise<BullmqFigures["paced"]> {
  log(`bullmq: paced at ${s.pacedRate}/s for ${s.pacedMs} ms`);
  const sentP = new Map<string, Sent>();
  const meter = pacedMeter(pids);
  const ol = await openLoop(s.pacedRate, s.pacedMs, async () => {
    const start = wallNow();
    const job = await queue.add("noop", PAYLOAD, JOB_OPTS);
    sentP.set(job.id!, { start, accepted: wallNow() });
  });
  const { cpuMsPerRun: cpuMsPerJob, wakeupsPerRun: wakeupsPerJob, loadGeneratorLoopDelay } = meter.stop(ol.sent);
  await waitFor(async () => (await queue.getJobCounts("completed")).completed >= sentP.size, "bullmq paced completed", 120_000, 20);
  const lp = await bullLatencies(queue, sentP);
  log(`  completed ${lp.completed}/${ol.sent}; dispatch p50 ${round(lp.dispatch.p50)} p99 ${round(lp.dispatch.p99)}; e2e p50 ${round(lp.e2e.p50)} p99 ${round(lp.e2e.p99)} ms; CPU ms/job ${JSON.stringify(roundValues(cpuMsPerJob, 3))}; wake-ups/job ${JSON.stringify(roundValues(wakeupsPerJob, 2))}; load generator's event-loop delay p99 ${round(loadGeneratorLoopDelay.p99)} ms`);
  await queue.clean(0, 10_000_000, "completed");
  return { completed: lp.completed, sent: ol.sent, dispatch: lp.dispatch, e2e: lp.e2e, cpuMsPerJob, wakeupsPerJob, loadGeneratorLoopDelay };
}

/** s.e2eN jobs preloaded with addBulk, then a fresh worker drains them: jobs per second, first job start → last finish. */
async function bullDrain(s: Settings, redis: Redis, queue: Queue, bulk: Parameters<Queue["addBulk"]>[0]): Promise<number> {
  log(`bullmq drain: ${s.e2eN} jobs preloaded (addBulk), then a worker with concurrency ${CONC} starts`);
  await closedLoop(s.batchConc, Math.ceil(s.e2eN / s.batchSize), 300_000, async () => void (await queue.addBulk(bulk)));
  const wd = startBullWorker(redis, "bullmq-worker-drain");
  try {
    await waitFor(async () => (await queue.getJobCounts("completed")).completed >= s.e2eN, "bullmq drain", 600_000, 20);
    let first = Infinity;
    let last = 0;
    let n = 0;
    for (let i = 0; i < 10_000; i++) {
      const jobs = await queue.getJobs(["completed"], i * 1_000, (i + 1) * 1_000 - 1, true);
      if (jobs.length === 0) break;
      for (const j of jobs) {
        n++;
        first = Math.min(first, j.returnvalue as number);
        last = Math.max(last, j.finishedOn ?? 0);
      }
    }
    const drainRate = (n / (last - first)) * 1000;
    log(`  drained ${n} at ${round(drainRate, 0)}/s (first job start → last finish)`);
    return drainRate;
  } finally {
    await wd.stop();
  }
}

async function bullLatencies(queue: Queue, sent: Map<string, Sent>): Promise<{ dispatch: Pcts; e2e: Pcts; completed: number; firstStart: number; lastFinish: number }> {
  const dispatch: number[] = [];
  const e2e: number[] = [];
  let firstStart = Infinity;
  let lastFinish = 0;
  for (const s of sent.values()) firstStart = Math.min(firstStart, s.start);
  const page = 1_000;
  for (let i = 0; i < 10_000; i++) {
    const jobs = await queue.getJobs(["completed"], i * page, (i + 1) * page - 1, true);
    if (jobs.length === 0) break;
    for (const j of jobs) {
      const s = sent.get(j.id!);
      if (!s) continue;
      dispatch.push((j.returnvalue as number) - s.start);
      const finished = (j.finishedOn ?? NaN) + MS_TRUNCATION;
      e2e.push(finished - s.start);
      lastFinish = Math.max(lastFinish, finished);
    }
  }
  return { dispatch: pcts(dispatch), e2e: pcts(e2e), completed: dispatch.length, firstStart, lastFinish };
}
