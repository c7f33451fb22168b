// Worker-side throughput alone: s.e2eN runs preloaded with no worker, then
// one worker (CONC) drains them; rate from the first task start to the last
// finish.
import { decodeJson, RunState } from "@taskwire/client";
import { batchRequest, purge, readRecords, submitBatch, waitDrained } from "../runs.js";
import { CONC, type Settings } from "../settings.js";
import { type Broker, type Stack, startWorker } from "../stack.js";
import { type Child, closedLoop, cpuSeconds, log, round, roundValues } from "../util.js";

/** How often the drain samples each process's CPU time, in ms (/proc's resolution is 10 ms). */
const DRAIN_CPU_SAMPLE_MS = 50;

/** The drain's rate, and the CPU per run of the worker, nats-server and the broker (idle but for its record history follower) from the worker's start. */
export interface DrainFigures {
  rate: number;
  completed: number;
  cpuMsPerRun: Record<string, number>;
}

export async function workerDrain(s: Settings, stack: Stack, broker: Broker, name = "worker-drain", env: Record<string, string> = {}): Promise<DrainFigures> {
  log(`drain: ${s.e2eN} runs preloaded (SubmitBatch), then a worker with concurrency ${CONC} starts`);
  await purge(stack.jsm);
  const batchReq = batchRequest(s.batchSize);
  await closedLoop(s.batchConc, Math.ceil(s.e2eN / s.batchSize), 300_000, () => submitBatch(broker.client, batchReq));
  // Each process's CPU time, sampled while the worker starts and drains;
  // the CPU per run is taken between the samples around the first task start
  // and the last finish, so the worker's start-up (loading modules) is not
  // counted.
  const samples: Array<{ at: number; cpu: Record<string, number> }> = [];
  const pids: Record<string, number> = { natsServer: stack.nats.child.proc.pid!, broker: broker.child.proc.pid! };
  const sample = (): void => {
    try {
      samples.push({ at: Date.now(), cpu: Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p) * 1000])) });
    } catch {
      // a process that just exited: no sample
    }
  };
  const sampler = setInterval(sample, DRAIN_CPU_SAMPLE_MS);
  let w: Child | undefined;
  try {
    w = await startWorker(stack, name, 1, env, (c) => {
      pids.worker = c.proc.pid!;
      sample();
    });
    await waitDrained(stack.jsm, 600_000);
    sample();
  } finally {
    clearInterval(sampler);
    await w?.stop();
  }
  let first = Infinity;
  let last = 0;
  let n = 0;
  for (const r of await readRecords(stack.js, stack.jsm)) {
    if (r.state !== RunState.RUN_STATE_COMPLETED) continue;
    n++;
    first = Math.min(first, decodeJson(r.result) as number);
    last = Math.max(last, r.finishedAt?.getTime() ?? 0);
  }
  const rate = (n / (last - first)) * 1000;
  const from = samples.findLast((x) => x.at <= first && x.cpu.worker !== undefined) ?? samples.find((x) => x.cpu.worker !== undefined);
  const to = samples.find((x) => x.at >= last) ?? samples.at(-1);
  const cpu = Object.fromEntries(Object.keys(pids).map((k) => [k, from && to && n > 0 ? ((to.cpu[k] ?? 0) - (from.cpu[k] ?? 0)) / n : 0]));
  log(`  drained ${n} at ${round(rate, 0)}/s (first task start → last finish); CPU ms/run ${JSON.stringify(roundValues(cpu, 3))}`);
  await purge(stack.jsm);
  return { rate, completed: n, cpuMsPerRun: cpu };
}
