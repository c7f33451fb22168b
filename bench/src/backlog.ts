// What a waiting backlog costs while nothing consumes it: 5,000 runs queued
// (fewer than the reconciler's RECONCILE_MAX_SCAN, so its passes may read
// the queue) for a task no worker serves, then nats-server's CPU and
// message counts, and the broker's CPU, over a 30 s window that starts once
// the runs are old enough to be the reconciler's candidates (40 s).
//   node --conditions=taskwire-source --import tsx bench/src/backlog.ts
// (bench/run.sh's set-up first: the pinned nats-server in .tools/bin, the
// build; TASKWIRE_NATS_SERVER as bench/run.sh exports it.)
import { batchRequest, purge, submitBatch } from "./runs.js";
import { startNats } from "./servers.js";
import { connectStack, startBroker, stopBroker } from "./stack.js";
import { cpuSeconds, killAllChildrenSync, log, round, sleep, stopAllChildren } from "./util.js";

const RUNS = 5_000;
const AGE_MS = 40_000;
const WINDOW_MS = 30_000;

process.on("exit", killAllChildrenSync);
const nats = await startNats();
try {
  const stack = await connectStack(nats, undefined);
  await purge(stack.jsm);
  const broker = await startBroker(stack, "broker-backlog");
  try {
    const req = batchRequest(100);
    for (let i = 0; i < RUNS / 100; i++) await submitBatch(broker.client, req);
    log(`backlog: ${RUNS} runs queued, no worker; waiting ${AGE_MS / 1000} s for them to age`);
    await sleep(AGE_MS);
    const natsPid = nats.child.proc.pid!;
    const brokerPid = broker.child.proc.pid!;
    const varz = (): Promise<{ in_msgs: number; out_msgs: number }> => nats.monitor("/varz");
    const v0 = await varz();
    const n0 = cpuSeconds(natsPid);
    const b0 = cpuSeconds(brokerPid);
    await sleep(WINDOW_MS);
    const v1 = await varz();
    const s = WINDOW_MS / 1000;
    const natsCores = (cpuSeconds(natsPid) - n0) / s;
    const brokerCores = (cpuSeconds(brokerPid) - b0) / s;
    log(`backlog: over ${s} s with ${RUNS} runs waiting: nats-server ${round(natsCores, 3)} cores busy, ${round((v1.in_msgs - v0.in_msgs) / s, 0)} msgs in/s, ${round((v1.out_msgs - v0.out_msgs) / s, 0)} out/s; broker ${round(brokerCores, 3)} cores busy`);
  } finally {
    await stopBroker(broker);
    await purge(stack.jsm);
    await stack.nc.close();
  }
} finally {
  await stopAllChildren();
  await nats.stop().catch(() => undefined);
}
