// Broker memory: a fresh broker's RSS idle, then with s.memN runs queued
// (SubmitBatch, no worker), and its peak (VmHWM).
import { RUNS_STREAM } from "@taskwire/core";
import { batchRequest, purge, submitBatch } from "../runs.js";
import type { Settings } from "../settings.js";
import { type Stack, startBroker, stopBroker } from "../stack.js";
import { closedLoop, log, round, rssMiB, sleep } from "../util.js";

export interface BrokerMemory {
  idleMiB: number;
  queuedMiB: number;
  peakMiB: number;
  /** Runs in the stream when queuedMiB was read. */
  queued: number;
}

export async function brokerMemory(s: Settings, stack: Stack): Promise<BrokerMemory> {
  log(`memory: fresh broker, ${s.memN} runs queued, no worker`);
  await purge(stack.jsm);
  const b = await startBroker(stack, "broker-memory");
  try {
    await sleep(1_000);
    const idle = rssMiB(b.child.proc.pid!);
    const batchReq = batchRequest(s.batchSize);
    const batches = Math.ceil(s.memN / s.batchSize);
    const t0 = performance.now();
    await closedLoop(s.batchConc, batches, 300_000, () => submitBatch(b.client, batchReq));
    const ms = performance.now() - t0;
    await sleep(2_000);
    const loaded = rssMiB(b.child.proc.pid!);
    const si = await stack.jsm.streams.info(RUNS_STREAM);
    log(`  idle ${round(idle.rss, 1)} MiB, with ${si.state.messages} queued ${round(loaded.rss, 1)} MiB (peak ${round(loaded.hwm, 1)} MiB), loaded at ${round((batches * s.batchSize * 1000) / ms, 0)} runs/s`);
    return { idleMiB: idle.rss, queuedMiB: loaded.rss, peakMiB: loaded.hwm, queued: si.state.messages };
  } finally {
    await stopBroker(b);
    await purge(stack.jsm);
  }
}
