// End to end, burst: s.e2eN no-op runs submitted at concurrency CONC while
// one worker (CONC) executes them; submit rate, completion rate, dispatch
// and end-to-end latency, CPU per run of each process.
import type { Client } from "@taskwire/client";
import { purge, readRecords, runLatencies, type Sent, submitReq, waitDrained } from "../runs.js";
import { CONC, type Settings } from "../settings.js";
import type { Stack } from "../stack.js";
import { closedLoop, cpuMeter, log, type Pcts, round, roundValues, wallNow } from "../util.js";

export interface E2EBurst {
  submitRate: number;
  completed: number;
  submitted: number;
  /** Completed runs per second, first Submit call → last finish. */
  completedRate: number;
  dispatch: Pcts;
  e2e: Pcts;
  negativeDispatch: number;
  /** CPU ms per run of each process measured (e2e phase: broker, worker, natsServer, loadGenerator). */
  cpuMsPerRun: Record<string, number>;
  dispatchFromAnswer: Pcts;
}

/**
 * The burst submitted by `client` (the default SDK, which coalesces a
 * turn's Submits into one SubmitBatch call) and by `unary` (one Submit call
 * per run); the unary burst runs first.
 */
export async function e2eBursts(s: Settings, stack: Stack, client: Client, unary: Client, pids: Record<string, number>): Promise<E2EBurst & { unary: E2EBurst }> {
  const burstUnary = await e2eBurst(s, stack, unary, "unary Submit calls", pids);
  const burst = await e2eBurst(s, stack, client, "default client (coalesced Submits)", pids);
  return { ...burst, unary: burstUnary };
}

/**
 * One burst: s.e2eN runs submitted CONC at a time, the i-th through
 * `clients[i % clients.length]` (the multi phase spreads them over its
 * brokers), then waited for; CPU per run of each process in `pids`.
 */
export async function e2eBurst(s: Settings, stack: Stack, clients: Client | Client[], how: string, pids: Record<string, number>): Promise<E2EBurst> {
  const via = Array.isArray(clients) ? clients : [clients];
  log(`e2e: ${s.e2eN} no-op runs, Submit concurrency ${CONC} (${how}), worker concurrency ${CONC}`);
  await purge(stack.jsm);
  const sent = new Map<string, Sent>();
  const cpu0 = cpuMeter(pids);
  const t0 = performance.now();
  const r = await closedLoop(CONC, s.e2eN, 300_000, async (i) => {
    const start = wallNow();
    const { run } = await via[i % via.length]!.submitRaw(submitReq);
    sent.set(run.id, { start, accepted: wallNow() });
  });
  const submitRate = (r.done / r.ms) * 1000;
  await waitDrained(stack.jsm, 600_000);
  const wallMs = performance.now() - t0;
  const cpu = cpu0.msPer(r.done);
  const records = await readRecords(stack.js, stack.jsm);
  const l = runLatencies(records, sent);
  const completedRate = (l.completed / (l.lastFinish - l.firstStart)) * 1000;
  log(`  submitted ${round(submitRate, 0)}/s, completed ${l.completed}/${r.done} at ${round(completedRate, 0)}/s (drain seen after ${round(wallMs, 0)} ms); dispatch p50 ${round(l.dispatch.p50)} p99 ${round(l.dispatch.p99)}; e2e p50 ${round(l.e2e.p50)} p99 ${round(l.e2e.p99)} ms; CPU ms/run ${JSON.stringify(roundValues(cpu, 3))}`);
  await purge(stack.jsm);
  return {
    submitRate,
    completed: l.completed,
    submitted: r.done,
    completedRate,
    dispatch: l.dispatch,
    e2e: l.e2e,
    negativeDispatch: l.negativeDispatch,
    cpuMsPerRun: cpu,
    dispatchFromAnswer: l.dispatchFromAnswer,
  };
}
