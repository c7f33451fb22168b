// Submit throughput against a broker with no worker: closed loops through
// the TS SDK at concurrency 1 and CONC, the generated stub at CONC, and
// SubmitBatch.
import { batchRequest, purge, submitBatch, submitReq } from "../runs.js";
import { CONC, type Settings } from "../settings.js";
import type { Broker, Stack } from "../stack.js";
import { closedLoop, cpuSeconds, log, machineBusySeconds, type Pcts, pcts, round, roundValues, selfCpuSeconds } from "../util.js";

export interface ClosedLoopFigures {
  rate: number;
  lat: Pcts;
  brokerCpuMsPerSubmit: number;
  /** Cores busy during the loop: broker, natsServer, loadGenerator, wholeMachine. */
  coresBusy: Record<string, number>;
}

export interface SubmitThroughput {
  c1: ClosedLoopFigures;
  c64: ClosedLoopFigures;
  c64stub: ClosedLoopFigures;
}

export async function submitThroughput(s: Settings, stack: Stack, broker: Broker): Promise<SubmitThroughput> {
  const client = broker.client;
  await closedLoop(CONC, 2_000, 5_000, async () => void (await client.submitRaw(submitReq))); // warm-up
  await purge(stack.jsm);
  // The SDK (Client.submitRaw: deadline, metadata, client span) at c1 and
  // c64, then the generated grpc-js stub called exactly like the echo
  // ceiling's client (no deadline, no metadata): the same client on both
  // sides, so the ratio compares the servers.
  const raw = client.raw;
  const viaSdk = (): Promise<unknown> => client.submitRaw(submitReq);
  const viaStub = (): Promise<void> => new Promise<void>((res, rej) => raw.submit(submitReq, (e) => (e ? rej(e) : res())));
  const loop = (conc: number, call: () => Promise<unknown>, how = ""): Promise<ClosedLoopFigures> => closedLoopFigures(s, stack, broker, conc, call, how);
  const c1 = await loop(1, viaSdk);
  const c64 = await loop(CONC, viaSdk);
  const c64stub = await loop(CONC, viaStub, ", generated stub like the echo client");
  return { c1, c64, c64stub };
}

async function closedLoopFigures(s: Settings, stack: Stack, broker: Broker, conc: number, call: () => Promise<unknown>, how: string): Promise<ClosedLoopFigures> {
  const brokerPid = broker.child.proc.pid!;
  const natsPid = stack.nats.child.proc.pid!;
  log(`submit: closed loop, concurrency ${conc}${how}, ${s.closedMs} ms`);
  const lat: number[] = [];
  const cpu0 = cpuSeconds(brokerPid);
  const n0 = cpuSeconds(natsPid);
  const b0 = selfCpuSeconds();
  const m0 = machineBusySeconds();
  const r = await closedLoop(conc, 10_000_000, s.closedMs, async () => {
    const t = performance.now();
    await call();
    lat.push(performance.now() - t);
  });
  const cpu = cpuSeconds(brokerPid) - cpu0;
  const natsCpu = cpuSeconds(natsPid) - n0;
  const benchCpu = selfCpuSeconds() - b0;
  const util = { broker: cpu / (r.ms / 1000), natsServer: natsCpu / (r.ms / 1000), loadGenerator: benchCpu / (r.ms / 1000), wholeMachine: (machineBusySeconds() - m0) / (r.ms / 1000) };
  log(`  ${round((r.done / r.ms) * 1000, 0)}/s p50 ${round(pcts(lat).p50)} p99 ${round(pcts(lat).p99)} ms; broker CPU ${round((cpu * 1000) / r.done, 3)} ms/submit; cores busy ${JSON.stringify(roundValues(util, 2))}`);
  await purge(stack.jsm);
  return { rate: (r.done / r.ms) * 1000, lat: pcts(lat), brokerCpuMsPerSubmit: (cpu * 1000) / r.done, coresBusy: util };
}

/** SubmitBatch of s.batchSize runs, s.batchConc calls in flight: runs per second. */
export async function submitBatchThroughput(s: Settings, stack: Stack, broker: Broker): Promise<{ rate: number }> {
  log(`submit: SubmitBatch of ${s.batchSize}, ${s.batchConc} concurrent, ${s.batchMs} ms`);
  const batchReq = batchRequest(s.batchSize);
  const b = await closedLoop(s.batchConc, 10_000_000, s.batchMs, () => submitBatch(broker.client, batchReq));
  const rate = ((b.done * s.batchSize) / b.ms) * 1000;
  log(`  ${round(rate, 0)} runs/s`);
  await purge(stack.jsm);
  return { rate };
}
