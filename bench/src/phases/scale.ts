// Scale: s.scaleN runs queued with SubmitBatch against a fresh broker with
// no worker, then one worker (CONC) drains them. What holding that many
// runs costs: the queueing and drain rates, the RSS of broker, nats-server
// and worker along the way, and nats-server's store on disk per stream —
// with the runs queued, and after the drain, when their records and index
// entries stay retained (for the retention period) while the queue is empty.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { decodeJson, RunState } from "@taskwire/client";
import { INDEX_STREAM, RUNS_BUCKET_STREAM, RUNS_STREAM } from "@taskwire/core";
import { batchRequest, forEachRecord, purge, submitBatch, submitReq, waitDrained } from "../runs.js";
import { CONC, type Settings } from "../settings.js";
import { type Broker, type Stack, startBroker, startWorker, stopBroker } from "../stack.js";
import { closedLoop, duBytes, log, openLoop, type Pcts, pcts, round, rssMiB, sleep } from "../util.js";

/** The streams whose size is reported: run records (a KV bucket, every revision of a run kept), queued runs, the run index. */
export const SCALE_STREAMS = [RUNS_BUCKET_STREAM, RUNS_STREAM, INDEX_STREAM] as const;
export type ScaleStream = (typeof SCALE_STREAMS)[number];

/** VmRSS and VmHWM (the process's peak since it started), MiB. */
export interface ProcMemory {
  rss: number;
  hwm: number;
}

export interface StreamSize {
  /** Messages in the stream (the records' bucket keeps each revision: PENDING, RUNNING, COMPLETED). */
  messages: number;
  /** du of the stream's directory in the store, and JetStream's stream info `state.bytes`. */
  diskBytes: number;
  stateBytes: number;
  /** The same two per 100,000 runs of the phase, MiB. */
  diskMiBPer100k: number;
  stateMiBPer100k: number;
}

/** Unary Submits at a steady rate, to see what a queue of s.scaleN runs does to a lone caller's latency. */
export const PROBE_RATE = 200;
export const PROBE_MS = 12_000;
/** Runs one probe adds (the same task: the drain runs them too). */
const PROBE_RUNS = (PROBE_RATE * PROBE_MS) / 1000;

export interface SubmitProbe {
  /** Latency of each Submit from its due time (open loop), ms. */
  lat: Pcts;
  errors: number;
}

export interface ScaleFigures {
  runs: number;
  /** Runs the Submit probes added (the same task: the drain runs them too). */
  probeRuns: number;
  /** Submit latency at PROBE_RATE/s for PROBE_MS against the fresh broker, then with the runs queued (the broker's reconciler tracking every one). */
  submitIdle: SubmitProbe;
  submitQueued: SubmitProbe;
  /** Runs per second queued with SubmitBatch (s.batchSize per call, s.batchConc in flight). */
  queueRate: number;
  /** Completed runs per second, first task start → last finish, over every record (streamed). */
  drainRate: number;
  completed: number;
  /** Idle before queueing, 2 s after queueing, 2 s after the drain. */
  broker: { idle: ProcMemory; queued: ProcMemory; drained: ProcMemory };
  /** nats-server's VmHWM is its peak since the bench started it (earlier phases included). */
  natsServer: { idle: ProcMemory; queued: ProcMemory; drained: ProcMemory };
  /** The worker's VmHWM when the drain was done (its peak). */
  workerPeakMiB: number;
  disk: { queued: Record<ScaleStream, StreamSize>; drained: Record<ScaleStream, StreamSize> };
}

/** The stream's directory in each account of the store (`<store_dir>/jetstream/<account>/streams/<name>`). */
function streamDirs(storeDir: string, stream: string): string[] {
  const root = join(storeDir, "jetstream");
  const dirs = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(root, d.name, "streams", stream))
    .filter((d) => existsSync(d));
  // A store laid out otherwise must not read as 0 bytes.
  if (dirs.length === 0) throw new Error(`scale: no directory of stream ${stream} under ${root}`);
  return dirs;
}

async function streamSizes(stack: Stack, runs: number): Promise<Record<ScaleStream, StreamSize>> {
  const per100k = (bytes: number): number => (bytes * 100_000) / runs / 2 ** 20;
  const out = {} as Record<ScaleStream, StreamSize>;
  for (const name of SCALE_STREAMS) {
    const si = await stack.jsm.streams.info(name);
    const diskBytes = streamDirs(stack.nats.storeDir, name).reduce((a, d) => a + duBytes(d), 0);
    out[name] = { messages: si.state.messages, diskBytes, stateBytes: si.state.bytes, diskMiBPer100k: per100k(diskBytes), stateMiBPer100k: per100k(si.state.bytes) };
  }
  return out;
}

const fmtMem = (m: ProcMemory): string => `${round(m.rss, 1)} MiB (peak ${round(m.hwm, 1)})`;
const fmtDisk = (d: Record<ScaleStream, StreamSize>): string =>
  SCALE_STREAMS.map((n) => `${n} ${d[n].messages} msgs, du ${round(d[n].diskMiBPer100k, 1)} / state ${round(d[n].stateMiBPer100k, 1)} MiB per 100k`).join("; ");

export async function scaleQueue(s: Settings, stack: Stack): Promise<ScaleFigures> {
  // Generous bounds: queueing at ≥ 1,000 runs/s, draining at ≥ 500/s (both
  // run at several thousand here), plus two minutes.
  const queueBoundMs = 120_000 + s.scaleN;
  const drainBoundMs = 120_000 + 2 * s.scaleN;
  log(`scale: fresh broker, ${s.scaleN} runs queued (SubmitBatch of ${s.batchSize}, ${s.batchConc} in flight), no worker; then a worker (concurrency ${CONC}) drains them`);
  await purge(stack.jsm);
  const natsPid = stack.nats.child.proc.pid!;
  const b: Broker = await startBroker(stack, "broker-scale");
  const brokerPid = b.child.proc.pid!;
  try {
    await sleep(1_000);
    const idle = { broker: rssMiB(brokerPid), nats: rssMiB(natsPid) };
    const probe = async (what: string): Promise<SubmitProbe> => {
      const r = await openLoop(PROBE_RATE, PROBE_MS, async () => void (await b.client.submitRaw(submitReq)));
      const lat = pcts(r.lat);
      log(`  Submit at ${PROBE_RATE}/s for ${PROBE_MS} ms, ${what}: p50 ${round(lat.p50)} p99 ${round(lat.p99)} max ${round(lat.max)} ms, ${r.errors} errors`);
      return { lat, errors: r.errors };
    };
    const submitIdle = await probe("empty queue");

    const batches = Math.ceil(s.scaleN / s.batchSize);
    const runs = batches * s.batchSize;
    const batchReq = batchRequest(s.batchSize);
    const q = await closedLoop(s.batchConc, batches, queueBoundMs, () => submitBatch(b.client, batchReq));
    if (q.done < batches) throw new Error(`scale: queued ${q.done * s.batchSize} of ${runs} runs within ${queueBoundMs} ms`);
    const queueRate = (runs / q.ms) * 1000;
    await sleep(2_000); // the broker settles; nats-server has written its blocks
    const queued = { broker: rssMiB(brokerPid), nats: rssMiB(natsPid) };
    const diskQueued = await streamSizes(stack, runs + PROBE_RUNS);
    log(`  queued ${runs} at ${round(queueRate, 0)} runs/s; broker ${fmtMem(idle.broker)} idle → ${fmtMem(queued.broker)}; nats-server ${fmtMem(idle.nats)} → ${fmtMem(queued.nats)}; ${fmtDisk(diskQueued)}`);
    // Every queued run is older than the reconciler's first look by now, so its passes walk all of them.
    const submitQueued = await probe(`${runs} runs queued`);

    const w = await startWorker(stack, "worker-scale");
    let workerPeakMiB: number;
    try {
      await waitDrained(stack.jsm, drainBoundMs).catch(async (err: unknown) => {
        const left = (await stack.jsm.streams.info(RUNS_STREAM)).state.messages;
        throw new Error(`scale: ${left} of ${runs} runs still queued after ${drainBoundMs} ms of draining`, { cause: err });
      });
      workerPeakMiB = rssMiB(w.proc.pid!).hwm;
    } finally {
      await w.stop();
    }
    await sleep(2_000);
    const drained = { broker: rssMiB(brokerPid), nats: rssMiB(natsPid) };
    const diskDrained = await streamSizes(stack, runs + 2 * PROBE_RUNS);

    // Exact, without holding 500,000 decoded records: every run's latest
    // record streamed once, keeping the earliest task start (the task's
    // result) and the latest finishedAt, as the drain phase computes it.
    let first = Infinity;
    let last = 0;
    let completed = 0;
    const read = await forEachRecord(
      stack.js,
      stack.jsm,
      (r) => {
        if (r.state !== RunState.RUN_STATE_COMPLETED) return;
        completed++;
        first = Math.min(first, decodeJson(r.result) as number);
        last = Math.max(last, r.finishedAt?.getTime() ?? 0);
      },
      drainBoundMs,
    );
    const drainRate = (completed / (last - first)) * 1000;
    log(`  drained ${completed}/${read} at ${round(drainRate, 0)}/s (first task start → last finish); worker peak ${round(workerPeakMiB, 1)} MiB; after the drain broker ${fmtMem(drained.broker)}, nats-server ${fmtMem(drained.nats)}; ${fmtDisk(diskDrained)}`);
    return {
      runs,
      probeRuns: 2 * PROBE_RUNS,
      submitIdle,
      submitQueued,
      queueRate,
      drainRate,
      completed,
      broker: { idle: idle.broker, queued: queued.broker, drained: drained.broker },
      natsServer: { idle: idle.nats, queued: queued.nats, drained: drained.nats },
      workerPeakMiB,
      disk: { queued: diskQueued, drained: diskDrained },
    };
  } finally {
    await stopBroker(b);
    await purge(stack.jsm);
  }
}
