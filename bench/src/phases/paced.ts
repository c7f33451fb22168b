// Latency at a steady rate (open loop: each call due at t0 + i/rate, its
// latency counted from that due time): Submit alone with no worker, and
// whole runs (Submit → started → finished) with a worker.
import type { Client } from "@taskwire/client";
import { purge, readRecords, runLatencies, type Sent, type SlowRuns, submitReq, waitDrained } from "../runs.js";
import type { Settings } from "../settings.js";
import type { Broker, Stack } from "../stack.js";
import { log, openLoop, type PacedCosts, pacedMeter, type Pcts, pcts, round, roundValues, wallNow } from "../util.js";

export interface SubmitOpenLoop {
  lat: Pcts;
  sent: number;
  errors: number;
  achieved: number;
}

/** Submit latency at s.openRate for s.openMs (broker without a worker). */
export async function submitOpenLoop(s: Settings, stack: Stack, broker: Broker): Promise<SubmitOpenLoop> {
  log(`submit: open loop at ${s.openRate}/s for ${s.openMs} ms`);
  const ol = await openLoop(s.openRate, s.openMs, async () => void (await broker.client.submitRaw(submitReq)));
  log(`  p50 ${round(pcts(ol.lat).p50)} p99 ${round(pcts(ol.lat).p99)} p99.9 ${round(pcts(ol.lat).p999)} ms, errors ${ol.errors}`);
  await purge(stack.jsm);
  return { lat: pcts(ol.lat), sent: ol.sent, errors: ol.errors, achieved: (ol.lat.length / ol.ms) * 1000 };
}

export interface E2EPaced extends PacedCosts {
  completed: number;
  sent: number;
  dispatch: Pcts;
  dispatchFromAnswer: Pcts;
  /** Submit call → its answer. */
  submitRoundTrip: Pcts;
  dispatchFromReceipt: Pcts;
  e2e: Pcts;
  negativeDispatch: number;
  slowest: SlowRuns;
}

/** Runs submitted by `client` at s.pacedRate for s.pacedMs, a worker running. */
export async function e2ePaced(s: Settings, stack: Stack, client: Client, pids: Record<string, number> = {}): Promise<E2EPaced> {
  log(`e2e: paced at ${s.pacedRate}/s for ${s.pacedMs} ms (latency at a steady rate)`);
  const sentP = new Map<string, Sent>();
  // CPU and wake-ups per run of each process while the runs were sent
  // (`pids`; none when empty): at a steady rate nothing is batched, so this
  // is what a run costs when it travels alone. The load generator's
  // event-loop delay tells its own stalls (GC, timers) from the system's.
  const meter = pacedMeter(pids);
  const ol = await openLoop(s.pacedRate, s.pacedMs, async () => {
    const start = wallNow();
    const { run } = await client.submitRaw(submitReq);
    sentP.set(run.id, { start, accepted: wallNow() });
  });
  const costs = meter.stop(ol.sent);
  await waitDrained(stack.jsm, 120_000);
  const lp = runLatencies(await readRecords(stack.js, stack.jsm), sentP);
  log(`  completed ${lp.completed}/${ol.sent}; dispatch p50 ${round(lp.dispatch.p50)} p99 ${round(lp.dispatch.p99)}; e2e p50 ${round(lp.e2e.p50)} p99 ${round(lp.e2e.p99)} ms (${lp.negativeDispatch} runs started before the client saw Submit's answer)`);
  const sl = lp.slowest;
  const hops = (h: typeof sl.hops): string => `client → broker ${round(h.toBroker)}, broker → start ${round(h.toStart)}, start → finish ${round(h.toFinish)}`;
  log(`  load generator's event-loop delay during the phase: p99 ${round(costs.loadGeneratorLoopDelay.p99)} ms, max ${round(costs.loadGeneratorLoopDelay.max)} ms; CPU ms/run ${JSON.stringify(roundValues(costs.cpuMsPerRun, 3))}; wake-ups/run ${JSON.stringify(roundValues(costs.wakeupsPerRun, 2))}`);
  log(`  slowest 1 % (${sl.n} runs, e2e ≥ ${round(sl.threshold)} ms, submitted in ${sl.windows} distinct 50 ms windows): ${hops(sl.hops)} ms; all runs: ${hops(sl.allHops)} ms (medians)`);
  await purge(stack.jsm);
  return { completed: lp.completed, sent: ol.sent, dispatch: lp.dispatch, dispatchFromAnswer: lp.dispatchFromAnswer, submitRoundTrip: lp.submitRoundTrip, dispatchFromReceipt: lp.dispatchFromReceipt, e2e: lp.e2e, negativeDispatch: lp.negativeDispatch, slowest: lp.slowest, ...costs };
}
