// Worker-side throughput alone: s.e2eN runs preloaded with no worker, then
// one worker (CONC) drains them; rate from the first task start to the last
// finish.
import { decodeJson, RunState } from "@taskwire/client";
import { batchRequest, purge, readRecords, submitBatch, waitDrained } from "../runs.js";
import { CONC, type Settings } from "../settings.js";
import { type Broker, type Stack, startWorker } from "../stack.js";
import { closedLoop, log, round } from "../util.js";

export async function workerDrain(s: Settings, stack: Stack, broker: Broker, name = "worker-drain", env: Record<string, string> = {}): Promise<{ rate: number; completed: number }> {
  log(`drain: ${s.e2eN} runs preloaded (SubmitBatch), then a worker with concurrency ${CONC} starts`);
  await purge(stack.jsm);
  const batchReq = batchRequest(s.batchSize);
  await closedLoop(s.batchConc, Math.ceil(s.e2eN / s.batchSize), 300_000, () => submitBatch(broker.client, batchReq));
  const w = await startWorker(stack, name, 1, env);
  try {
    await waitDrained(stack.jsm, 600_000);
  } finally {
    await w.stop();
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
  log(`  drained ${n} at ${round(rate, 0)}/s (first task start → last finish)`);
  await purge(stack.jsm);
  return { rate, completed: n };
}
