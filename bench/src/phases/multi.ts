// Several processes on one nats-server: 2 brokers and 3 workers (each at
// concurrency CONC) run the e2e phase's burst — s.e2eN runs through the
// default (coalescing) client, CONC Submits in flight, half to each broker
// — next to the 1 broker + 1 worker burst of the same run. Brokers share
// nothing but NATS, and workers pull from the same consumer, so this is
// what adding processes does; on a machine with spare cores it should add
// throughput, on one whose cores the single pair already fills it can only
// add the cost of more processes (more pulls, more connections).
import { Client } from "@taskwire/client";
import { purge } from "../runs.js";
import { CONC, type Settings } from "../settings.js";
import { type Broker, type Stack, startBroker, startWorker, stopBroker } from "../stack.js";
import { type Child, log, type Pcts, round, roundValues } from "../util.js";
import { type E2EBurst, e2eBurst } from "./e2e.js";

export const MULTI_BROKERS = 2;
export const MULTI_WORKERS = 3;

/** CPU ms per run by kind of process: brokers and workers summed over their processes. */
export interface CpuByKind {
  brokers: number;
  workers: number;
  natsServer: number;
  loadGenerator?: number;
}

export interface MultiBurst {
  submitted: number;
  completed: number;
  submitRate: number;
  /** Completed runs per second, first Submit call → last finishedAt. */
  completedRate: number;
  dispatch: Pcts;
  e2e: Pcts;
  cpuMsPerRun: CpuByKind;
  /** Each process's own CPU ms per run. */
  cpuMsPerRunByProcess: Record<string, number>;
}

export interface MultiFigures extends MultiBurst {
  brokers: number;
  workers: number;
  /** The 1 broker + 1 worker burst compared with: the e2e phase's, or this phase's own (first broker, first worker) when that phase did not run (--only). */
  baseline: MultiBurst & { from: "e2e phase" | "multi phase" };
}

function byKind(burst: E2EBurst): MultiBurst {
  const cpu = burst.cpuMsPerRun;
  const sum = (prefix: string): number => Object.entries(cpu).reduce((a, [k, v]) => (k.startsWith(prefix) ? a + v : a), 0);
  return {
    submitted: burst.submitted,
    completed: burst.completed,
    submitRate: burst.submitRate,
    completedRate: burst.completedRate,
    dispatch: burst.dispatch,
    e2e: burst.e2e,
    cpuMsPerRun: { brokers: sum("broker"), workers: sum("worker"), natsServer: cpu.natsServer ?? NaN, loadGenerator: cpu.loadGenerator },
    cpuMsPerRunByProcess: cpu,
  };
}

const cpuLine = (c: CpuByKind): string => JSON.stringify(roundValues(Object.fromEntries(Object.entries(c).filter((e): e is [string, number] => e[1] !== undefined)), 3));

/** 2 brokers and 3 workers (their own processes, stopped at the end, also on error); `single` is the e2e phase's burst when it ran. */
export async function multiProcess(s: Settings, stack: Stack, single: E2EBurst | undefined): Promise<MultiFigures> {
  log(`multi: ${MULTI_BROKERS} brokers and ${MULTI_WORKERS} workers (concurrency ${CONC} each) on one nats-server, ${s.e2eN} runs half to each broker`);
  await purge(stack.jsm);
  const brokers: Broker[] = [];
  const clients: Client[] = [];
  const workers: Child[] = [];
  // Process names are the keys of the CPU figures: "broker…" and "worker…" are summed by kind.
  const pids: Record<string, number> = { natsServer: stack.nats.child.proc.pid!, loadGenerator: process.pid };
  const addBroker = async (name: string): Promise<void> => {
    const b = await startBroker(stack, name);
    brokers.push(b);
    clients.push(new Client({ address: b.address })); // the default client: coalesced Submits, as in the e2e phase
    pids[name] = b.child.proc.pid!;
  };
  const addWorker = async (name: string): Promise<void> => {
    const w = await startWorker(stack, name, workers.length + 1);
    workers.push(w);
    pids[name] = w.proc.pid!;
  };
  try {
    await addBroker("broker-multi-1");
    await addWorker("worker-multi-1");
    let baseline: MultiFigures["baseline"];
    if (single) baseline = { ...byKind(single), from: "e2e phase" };
    else baseline = { ...byKind(await e2eBurst(s, stack, clients, "1 broker + 1 worker, the comparison for multi", { ...pids })), from: "multi phase" };
    for (let i = 2; i <= MULTI_BROKERS; i++) await addBroker(`broker-multi-${i}`);
    for (let i = 2; i <= MULTI_WORKERS; i++) await addWorker(`worker-multi-${i}`);
    const multi = byKind(await e2eBurst(s, stack, clients, `${MULTI_BROKERS} brokers, ${MULTI_WORKERS} workers, default clients, half to each broker`, pids));
    log(`  ${MULTI_BROKERS}+${MULTI_WORKERS}: completed ${round(multi.completedRate, 0)}/s against ${round(baseline.completedRate, 0)}/s for 1+1 (${baseline.from}, ${round(multi.completedRate / baseline.completedRate, 2)}×); CPU ms/run ${cpuLine(multi.cpuMsPerRun)} against ${cpuLine(baseline.cpuMsPerRun)}`);
    return { ...multi, brokers: MULTI_BROKERS, workers: MULTI_WORKERS, baseline };
  } finally {
    for (const w of workers) await w.stop().catch(() => {});
    for (const c of clients) c.close();
    for (const b of brokers) await stopBroker(b).catch(() => {});
    await purge(stack.jsm);
  }
}
