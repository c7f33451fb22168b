// Workers by language: the drain of the drain phase (s.e2eN no-op runs
// preloaded, then one worker at concurrency CONC) through a TS worker (its
// own NATS connection), a Python worker and a Go worker (both over the
// broker's WorkerService), one after the other on the same broker; rate
// from the first task start to the last finish, and the CPU each process
// spent per run. Python and Go are skipped, with the reason, when their
// worker is not installed (bench/run.sh installs them).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { decodeJson, RunState } from "@taskwire/client";
import { batchRequest, purge, readRecords, submitBatch, waitDrained } from "../runs.js";
import { CONC, type Settings } from "../settings.js";
import { type Broker, type Stack, startWorker } from "../stack.js";
import { BENCH, type Child, closedLoop, cpuSeconds, log, REPO, round, startChild } from "../util.js";

export type WorkerLang = "ts" | "python" | "go";

export interface LanguageDrain {
  /** Runs per second, first task start → last finish; undefined when skipped. */
  rate?: number;
  completed: number;
  /** CPU per run, ms: the worker process and the broker (which does a remote worker's NATS work). */
  cpuMsPerRun?: { worker: number; broker: number };
  skipped?: string;
}

export const PYTHON = join(REPO, "clients/python/.venv/bin/python");
export const GO_BENCH_WORKER = join(REPO, ".taskwire/bin/bench-worker-go");

function startLangWorker(lang: WorkerLang, stack: Stack, broker: Broker): Promise<Child> | Child {
  const env = { TASKWIRE_ADDRESS: broker.address, TASKWIRE_LOG_LEVEL: "warn" };
  if (lang === "ts") return startWorker(stack, "worker-ts");
  if (lang === "python") return startChild("worker-python", PYTHON, ["-m", "taskwire", "worker", join(BENCH, "src/tasks.py"), "--concurrency", String(CONC), "--log-level", "warning"], env);
  return startChild("worker-go", GO_BENCH_WORKER, ["-concurrency", String(CONC)], env);
}

function missing(lang: WorkerLang): string | undefined {
  if (lang === "python" && !existsSync(PYTHON)) return `no Python venv at ${PYTHON} (bench/run.sh makes it)`;
  if (lang === "go" && !existsSync(GO_BENCH_WORKER)) return `no Go bench worker at ${GO_BENCH_WORKER} (bench/run.sh builds it)`;
  return undefined;
}

async function drainWith(lang: WorkerLang, s: Settings, stack: Stack, broker: Broker): Promise<LanguageDrain> {
  const why = missing(lang);
  if (why) {
    log(`  ${lang}: skipped — ${why}`);
    return { completed: 0, skipped: why };
  }
  await purge(stack.jsm);
  const batchReq = batchRequest(s.batchSize);
  await closedLoop(s.batchConc, Math.ceil(s.e2eN / s.batchSize), 300_000, () => submitBatch(broker.client, batchReq));
  const brokerPid = broker.child.proc.pid ?? 0;
  const brokerCpu0 = cpuSeconds(brokerPid);
  const w = await startLangWorker(lang, stack, broker);
  const workerPid = w.proc.pid ?? 0;
  let workerCpu = 0;
  try {
    await waitDrained(stack.jsm, 600_000);
    workerCpu = cpuSeconds(workerPid);
  } catch (err) {
    throw new Error(`${lang} worker did not drain the runs: ${err instanceof Error ? err.message : String(err)}\n${w.output().slice(-2000)}`, { cause: err });
  } finally {
    await w.stop();
  }
  const brokerCpu = cpuSeconds(brokerPid) - brokerCpu0;
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
  const cpuMsPerRun = { worker: (workerCpu * 1000) / n, broker: (brokerCpu * 1000) / n };
  log(`  ${lang}: drained ${n} at ${round(rate, 0)}/s; CPU per run: worker ${round(cpuMsPerRun.worker, 3)} ms, broker ${round(cpuMsPerRun.broker, 3)} ms`);
  await purge(stack.jsm);
  return { rate, completed: n, cpuMsPerRun };
}

/** The drain through a worker of each language, measured the same way, one after the other. */
export async function workerLanguages(s: Settings, stack: Stack, broker: Broker): Promise<Record<WorkerLang, LanguageDrain>> {
  log(`workers by language: ${s.e2eN} no-op runs preloaded, then one worker (concurrency ${CONC}) drains them — TS (direct NATS), Python and Go (WorkerService)`);
  const ts = await drainWith("ts", s, stack, broker);
  const python = await drainWith("python", s, stack, broker);
  const go = await drainWith("go", s, stack, broker);
  return { ts, python, go };
}
