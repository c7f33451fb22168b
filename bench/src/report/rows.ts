// Which figures the table shows, in which order, next to which ceiling or
// BullMQ figure, and the targets (docs/performance.md).
import type { BullmqFigures } from "../phases/bullmq.js";
import type { E2EBurst } from "../phases/e2e.js";
import { FOLD_DELAY_MS, type FoldFigures } from "../phases/fold.js";
import type { GrpcCeiling } from "../phases/grpc-ceiling.js";
import type { FloorFigure } from "../phases/drain-floor.js";
import type { FloorE2E } from "../phases/e2e-floor.js";
import type { DrainFigures } from "../phases/drain.js";
import type { JetStreamCeiling } from "../phases/jetstream-ceiling.js";
import type { ListingFigures } from "../phases/listing.js";
import type { LanguageDrain, WorkerLang } from "../phases/languages.js";
import type { BrokerMemory } from "../phases/memory.js";
import type { MultiFigures } from "../phases/multi.js";
import type { E2EPaced, SubmitOpenLoop } from "../phases/paced.js";
import { PROBE_RATE, SCALE_STREAMS, type ScaleFigures } from "../phases/scale.js";
import type { SubmitThroughput } from "../phases/submit.js";
import type { Settings } from "../settings.js";
import { round } from "../util.js";
import { Table } from "./table.js";

/** Everything the phases measured. */
export interface Figures {
  ceilings: JetStreamCeiling & GrpcCeiling;
  /** A run's claim and outcome NATS operations alone, per variant. */
  floor: FloorFigure[];
  /** The design's operations alone, end to end: raw grpc-js broker and NATS worker, burst and paced. */
  floorE2E: FloorE2E;
  submit: SubmitThroughput & { open: SubmitOpenLoop; batch: { rate: number } };
  memory: BrokerMemory;
  costPerRun: Record<string, number>;
  e2e: E2EBurst & { unary: E2EBurst; paced: E2EPaced; pacedUnary?: E2EPaced };
  drain: DrainFigures;
  /** The e2e burst, paced runs and drain with the worker's opt-in start fold. */
  fold: FoldFigures;
  /** The drain through a TS, a Python and a Go worker. */
  languages: Record<WorkerLang, LanguageDrain>;
  /** s.scaleN runs queued, drained and retained. */
  scale: ScaleFigures;
  /** 2 brokers and 3 workers. */
  multi: MultiFigures;
  listing: ListingFigures;
  /** Absent with --skip-bullmq. */
  bullmq: BullmqFigures | undefined;
}

/**
 * The table of what ran: a section whose phase did not run (--only) has no
 * rows, and a row compared with a figure of such a phase has no comparison.
 */
export function tableOf(s: Settings, f: Partial<Figures>): Table {
  const t = new Table();
  ceilingRows(t, s, f);
  floorRows(t, s, f);
  floorE2ERows(t, s, f);
  submitRows(t, s, f);
  e2eRows(t, s, f);
  foldRows(t, s, f);
  languageRows(t, s, f);
  multiRows(t, s, f);
  memoryRows(t, f);
  scaleRows(t, f);
  if (f.listing) listingRows(t, f.listing);
  costRows(t, f);
  return t;
}

function ceilingRows(t: Table, s: Settings, { ceilings: ceil }: Partial<Figures>): void {
  if (!ceil) return;
  t.row({ section: "ceiling", metric: "raw JetStream publish (async, acked, 64 in flight)", unit: "msg/s", taskwire: ceil.pub });
  t.row({ section: "ceiling", metric: "raw JetStream consume+ack (64 in flight)", unit: "msg/s", taskwire: ceil.consume });
  t.row({ section: "ceiling", metric: "raw KV create + publish in sequence (Submit's NATS work, 64 in flight)", unit: "op/s", taskwire: ceil.kvPub });
  t.row({ section: "ceiling", metric: "  same, nats.js noAsyncTraces: true", unit: "op/s", taskwire: ceil.kvPubNoTraces, peer: "default (async traces)", peerValue: ceil.kvPub });
  t.row({ section: "ceiling", metric: "raw grpc-js unary echo, concurrency 1", unit: "call/s", taskwire: ceil.echo1.rate });
  t.row({ section: "ceiling", metric: "raw grpc-js unary echo, concurrency 64", unit: "call/s", taskwire: ceil.echo64.rate });
  t.latencies("ceiling", "raw grpc-js echo c64 latency", ceil.echo64.lat);
  t.latencies("ceiling", `raw grpc-js echo open loop ${s.openRate}/s latency`, ceil.echoOpen, undefined, {}, true);
}

/** The drain floor next to BullMQ's drain and worker CPU: what no worker on these NATS operations can beat on this machine. */
function floorRows(t: Table, s: Settings, { floor, bullmq: bull }: Partial<Figures>): void {
  for (const v of floor ?? []) {
    t.row({ section: "floor", metric: `drain, NATS work alone (${round(s.rawN / 5, 0)} runs, 64 in flight): ${v.variant}`, unit: "/s", taskwire: v.rate, peer: "BullMQ drain", peerValue: bull?.drainRate });
    t.row({ section: "floor", metric: "  CPU per run: the draining process", unit: "ms", taskwire: v.clientCpuMsPerRun, peer: "BullMQ worker", peerValue: bull?.cpuMsPerJob.worker });
    if (v.serverCpuMsPerRun !== undefined) t.row({ section: "floor", metric: "  CPU per run: nats-server", unit: "ms", taskwire: v.serverCpuMsPerRun, peer: "redis-server", peerValue: bull?.cpuMsPerJob.redis });
  }
}

/**
 * The end-to-end floor next to BullMQ and to taskwire in the same run: what
 * no implementation of the design (gRPC broker and worker in Node.js, three
 * durable writes per run on nats-server) can beat on this machine, and how
 * much of the gap taskwire's own code is.
 */
function floorE2ERows(t: Table, s: Settings, { floorE2E: fl, e2e, bullmq: bull }: Partial<Figures>): void {
  if (!fl) return;
  const n = s.e2eN.toLocaleString("en-US");
  t.row({ section: "floor e2e", metric: `completed per second (${n} no-op, c64), the design's operations alone (raw grpc-js broker, raw NATS worker)`, unit: "/s", taskwire: fl.burst.completedRate, peer: "BullMQ", peerValue: bull?.completedRate });
  t.row({ section: "floor e2e", metric: "  taskwire's completed per second, against this floor", unit: "/s", taskwire: e2e?.completedRate, peer: "the floor", peerValue: fl.burst.completedRate });
  const burstPeer: Record<string, [string, number | undefined]> = { worker: ["BullMQ worker", bull?.cpuMsPerJob.worker], natsServer: ["redis-server", bull?.cpuMsPerJob.redis] };
  for (const [k, v] of Object.entries(fl.burst.cpuMsPerRun)) t.row({ section: "floor e2e", metric: `  burst, CPU per run: ${k}`, unit: "ms", taskwire: v, peer: burstPeer[k]?.[0] ?? (e2e ? "taskwire" : undefined), peerValue: burstPeer[k]?.[1] ?? e2e?.cpuMsPerRun[k] });
  t.latencies("floor e2e", `end-to-end latency, paced ${s.pacedRate}/s`, fl.paced.e2e, bull ? { name: "BullMQ", p: bull.paced.e2e } : undefined);
  t.latencies("floor e2e", `dispatch latency (from Submit call), paced ${s.pacedRate}/s`, fl.paced.dispatch, bull ? { name: "BullMQ", p: bull.paced.dispatch } : undefined);
  // The same two legs as taskwire's paced rows measure: the Submit's round trip (call → answer), then answer → task start.
  const tw = e2e?.paced;
  t.latencies("floor e2e", `  Submit round trip (call → answer), paced ${s.pacedRate}/s`, fl.paced.submitRoundTrip, tw ? { name: "taskwire", p: tw.submitRoundTrip } : undefined);
  t.latencies("floor e2e", `  dispatch from the Submit answer (answer → task start), paced ${s.pacedRate}/s`, fl.paced.dispatchFromAnswer, tw ? { name: "taskwire", p: tw.dispatchFromAnswer } : undefined);
  const pacedPeer: Record<string, [string, number | undefined]> = { worker: ["BullMQ worker", bull?.paced.cpuMsPerJob.worker], natsServer: ["redis-server", bull?.paced.cpuMsPerJob.redis], loadGenerator: ["BullMQ's load generator", bull?.paced.cpuMsPerJob.loadGenerator] };
  for (const [k, v] of Object.entries(fl.paced.cpuMsPerRun)) t.row({ section: "floor e2e", metric: `  paced, CPU per run: ${k}`, unit: "ms", taskwire: v, peer: pacedPeer[k]?.[0], peerValue: pacedPeer[k]?.[1] });
  for (const [k, v] of Object.entries(fl.paced.wakeupsPerRun)) t.row({ section: "floor e2e", metric: `  paced, wake-ups per run: ${k}`, unit: "", taskwire: v, peer: k === "natsServer" ? "redis-server" : undefined, peerValue: k === "natsServer" ? bull?.paced.wakeupsPerJob.redis : undefined });
  const sum = (r: Record<string, number> | undefined): number | undefined => (r && Object.keys(r).length > 0 ? Object.values(r).reduce((a, b) => a + b, 0) : undefined);
  const floorSum = sum(fl.paced.cpuMsPerRun);
  const bullSum = sum(bull?.paced.cpuMsPerJob);
  if (floorSum !== undefined) t.row({ section: "floor e2e", metric: `  paced, cores busy at ${s.pacedRate}/s`, unit: "", taskwire: (floorSum * s.pacedRate) / 1000, peer: "BullMQ", peerValue: bullSum !== undefined ? (bullSum * s.pacedRate) / 1000 : undefined });
  // The same design with the start folded into the outcome (one write per run less in the worker): what the opt-in fold could reach at best.
  t.row({ section: "floor e2e", metric: "completed per second, the start folded into the outcome (1 compare-and-set write per run in the worker)", unit: "/s", taskwire: fl.fold.burst.completedRate, peer: "BullMQ", peerValue: bull?.completedRate });
  for (const [k, v] of Object.entries(fl.fold.burst.cpuMsPerRun)) t.row({ section: "floor e2e", metric: `  fold, burst, CPU per run: ${k}`, unit: "ms", taskwire: v, peer: "the floor", peerValue: fl.burst.cpuMsPerRun[k] });
  t.latencies("floor e2e", `end-to-end latency, fold, paced ${s.pacedRate}/s`, fl.fold.paced.e2e, bull ? { name: "BullMQ", p: bull.paced.e2e } : undefined);
  // The least NATS work of any design with a record per run and a queued message: what no such design beats here.
  if (!fl.min) return;
  t.row({ section: "floor e2e", metric: "completed per second, the least NATS work (record create, message; 1 compare-and-set write, ack; no index entry, no follower)", unit: "/s", taskwire: fl.min.burst.completedRate, peer: "BullMQ", peerValue: bull?.completedRate });
  for (const [k, v] of Object.entries(fl.min.burst.cpuMsPerRun)) t.row({ section: "floor e2e", metric: `  least work, burst, CPU per run: ${k}`, unit: "ms", taskwire: v, peer: burstPeer[k]?.[0] ?? "the floor", peerValue: burstPeer[k]?.[1] ?? fl.burst.cpuMsPerRun[k] });
  t.latencies("floor e2e", `end-to-end latency, least work, paced ${s.pacedRate}/s`, fl.min.paced.e2e, bull ? { name: "BullMQ", p: bull.paced.e2e } : undefined);
  t.latencies("floor e2e", `dispatch latency (from Submit call), least work, paced ${s.pacedRate}/s`, fl.min.paced.dispatch, bull ? { name: "BullMQ", p: bull.paced.dispatch } : undefined);
}

function submitRows(t: Table, s: Settings, { ceilings: ceil, submit: sub, bullmq: bull }: Partial<Figures>): void {
  if (!sub) return;
  t.row({ section: "submit", metric: "Submit throughput, concurrency 1", unit: "call/s", taskwire: sub.c1.rate, peer: "grpc echo c1", peerValue: ceil?.echo1.rate });
  t.latencies("submit", "Submit c1 latency", sub.c1.lat, ceil && { name: "grpc echo c1", p: ceil.echo1.lat });
  t.row({ section: "submit", metric: "Submit throughput, concurrency 64 (TS SDK client)", unit: "call/s", taskwire: sub.c64.rate, peer: "grpc echo c64", peerValue: ceil?.echo64.rate });
  t.row({ section: "submit", metric: "Submit throughput, concurrency 64 (generated stub, as the echo client)", unit: "call/s", taskwire: sub.c64stub.rate, peer: "grpc echo c64", peerValue: ceil?.echo64.rate, target: "≥ 0.8× echo", met: ceil ? sub.c64stub.rate >= 0.8 * ceil.echo64.rate : undefined });
  t.row({ section: "submit", metric: "Submit throughput c64 vs its NATS work alone", unit: "call/s", taskwire: sub.c64.rate, peer: "raw KV create+publish", peerValue: ceil?.kvPub });
  t.latencies("submit", "Submit c64 latency", sub.c64.lat, ceil && { name: "grpc echo c64", p: ceil.echo64.lat });
  t.latencies("submit", `Submit open loop ${s.openRate}/s latency`, sub.open.lat, ceil && { name: `grpc echo open loop ${s.openRate}/s`, p: ceil.echoOpen }, { p99: 2 }, true);
  t.row({ section: "submit", metric: "broker CPU per Submit (c64)", unit: "ms", taskwire: sub.c64.brokerCpuMsPerSubmit, peer: "echo server CPU per call", peerValue: ceil?.echo64.serverCpuMsPerCall });
  // One call at a time: nothing shares a socket write or a wake-up, on either side.
  t.row({ section: "submit", metric: "broker CPU per Submit (c1)", unit: "ms", taskwire: sub.c1.brokerCpuMsPerSubmit, peer: "echo server CPU per call (c1)", peerValue: ceil?.echo1.serverCpuMsPerCall });
  for (const [k, v] of Object.entries(sub.c64.coresBusy)) t.row({ section: "submit", metric: `cores busy during Submit c64 (SDK): ${k}`, unit: "", taskwire: v });
  for (const [k, v] of Object.entries(sub.c64stub.coresBusy)) t.row({ section: "submit", metric: `cores busy during Submit c64 (stub): ${k}`, unit: "", taskwire: v });
  t.row({ section: "submit", metric: `SubmitBatch (${s.batchSize}/call, ${s.batchConc} in flight)`, unit: "run/s", taskwire: sub.batch.rate, peer: "BullMQ addBulk", peerValue: bull?.bulkRate });
  t.row({ section: "submit", metric: "SubmitBatch vs JetStream publish", unit: "run/s", taskwire: sub.batch.rate, peer: "raw JS publish", peerValue: ceil?.pub });
}

/** The drain rate (a target) and what each process spent per drained run. */
function drainRows(t: Table, n: string, drain: DrainFigures, bull: BullmqFigures | undefined): void {
  t.row({ section: "e2e", metric: `worker drain rate (${n} preloaded, c64)`, unit: "/s", taskwire: drain.rate, peer: "BullMQ", peerValue: bull?.drainRate, target: "≥ 1.0× BullMQ", met: bull ? drain.rate >= bull.drainRate : undefined });
  const peerOf: Record<string, [string, number | undefined]> = { worker: ["BullMQ worker (e2e)", bull?.cpuMsPerJob.worker], natsServer: ["redis-server (e2e)", bull?.cpuMsPerJob.redis] };
  for (const [k, v] of Object.entries(drain.cpuMsPerRun)) t.row({ section: "e2e", metric: `  drain, CPU per run: ${k}`, unit: "ms", taskwire: v, peer: peerOf[k]?.[0], peerValue: peerOf[k]?.[1] });
}

function e2eRows(t: Table, s: Settings, { ceilings: ceil, e2e, drain, bullmq: bull }: Partial<Figures>): void {
  const n = s.e2eN.toLocaleString("en-US");
  if (drain && !e2e) drainRows(t, n, drain, bull);
  if (!e2e) return;
  t.row({ section: "e2e", metric: `submit rate while ${n} runs execute (c64)`, unit: "/s", taskwire: e2e.submitRate, peer: "BullMQ add", peerValue: bull?.addRate });
  t.row({ section: "e2e", metric: `completed per second (${n} no-op, worker c64)`, unit: "/s", taskwire: e2e.completedRate, peer: "BullMQ", peerValue: bull?.completedRate, target: "≥ 1.0× BullMQ", met: bull ? e2e.completedRate >= bull.completedRate : undefined });
  t.row({ section: "e2e", metric: `  same, one Submit call per run (coalesceSubmits: false)`, unit: "/s", taskwire: e2e.unary.completedRate, peer: "BullMQ", peerValue: bull?.completedRate });
  t.row({ section: "e2e", metric: `  submit rate, one Submit call per run`, unit: "/s", taskwire: e2e.unary.submitRate, peer: "BullMQ add", peerValue: bull?.addRate });
  if (drain) drainRows(t, n, drain, bull);
  t.row({ section: "e2e", metric: "completed per second vs consume+ack ceiling", unit: "/s", taskwire: e2e.completedRate, peer: "raw JS consume+ack", peerValue: ceil?.consume });
  t.latencies("e2e", `dispatch latency (from Submit call), ${n} burst`, e2e.dispatch, bull ? { name: "BullMQ", p: bull.dispatch } : undefined);
  t.latencies("e2e", `end-to-end latency, ${n} burst`, e2e.e2e, bull ? { name: "BullMQ", p: bull.e2e } : undefined);
  t.latencies("e2e", `dispatch latency (from Submit call), paced ${s.pacedRate}/s`, e2e.paced.dispatch, bull ? { name: "BullMQ", p: bull.paced.dispatch } : undefined);
  t.latencies("e2e", `dispatch latency (broker receipt → start, ≥ accepted → start), paced ${s.pacedRate}/s`, e2e.paced.dispatchFromReceipt, undefined, { p99: 5 });
  t.latencies("e2e", `dispatch latency (from Submit answer, lower bound), paced ${s.pacedRate}/s`, e2e.paced.dispatchFromAnswer);
  t.latencies("e2e", `end-to-end latency, paced ${s.pacedRate}/s`, e2e.paced.e2e, bull ? { name: "BullMQ", p: bull.paced.e2e } : undefined, {}, false, { p50: 1.5, p99: 2 });
  const ld = e2e.paced.loadGeneratorLoopDelay;
  const bld = bull?.paced.loadGeneratorLoopDelay;
  t.row({ section: "e2e", metric: `  paced: the load generator's event-loop delay, p99 (max ${round(ld.max, 1)} ms${bld ? `; BullMQ's ${round(bld.max, 1)} ms` : ""})`, unit: "ms", taskwire: ld.p99, peer: bld ? "BullMQ's load generator" : undefined, peerValue: bld?.p99 });
  const sl = e2e.paced.slowest;
  for (const [k, label] of [["toBroker", "client → broker (Submit call → createdAt)"], ["toStart", "broker → task start"], ["toFinish", "task start → finishedAt"]] as const) {
    t.row({ section: "e2e", metric: `  paced, slowest 1 % (e2e ≥ ${round(sl.threshold, 1)} ms; ${sl.windows} distinct 50 ms windows), median ${label}`, unit: "ms", taskwire: sl.hops[k], peer: "all runs", peerValue: sl.allHops[k] });
  }
  // What a run costs when it travels alone (nothing to batch with), each process next to its BullMQ counterpart, and how busy that kept the machine.
  const pacedPeer: Record<string, [string, number | undefined]> = { worker: ["BullMQ worker", bull?.paced.cpuMsPerJob.worker], natsServer: ["redis-server", bull?.paced.cpuMsPerJob.redis], loadGenerator: ["BullMQ's load generator", bull?.paced.cpuMsPerJob.loadGenerator] };
  for (const [k, v] of Object.entries(e2e.paced.cpuMsPerRun)) t.row({ section: "e2e", metric: `  paced, CPU per run: ${k}`, unit: "ms", taskwire: v, peer: pacedPeer[k]?.[0], peerValue: pacedPeer[k]?.[1] });
  // How often each process went to sleep and was woken per run (voluntary context switches, all threads): the crossings a run costs.
  const wakePeer: Record<string, [string, number | undefined]> = { worker: ["BullMQ worker", bull?.paced.wakeupsPerJob.worker], natsServer: ["redis-server", bull?.paced.wakeupsPerJob.redis], loadGenerator: ["BullMQ's load generator", bull?.paced.wakeupsPerJob.loadGenerator] };
  for (const [k, v] of Object.entries(e2e.paced.wakeupsPerRun)) t.row({ section: "e2e", metric: `  paced, wake-ups per run (voluntary context switches): ${k}`, unit: "", taskwire: v, peer: wakePeer[k]?.[0], peerValue: wakePeer[k]?.[1] });
  const sum = (r: Record<string, number> | undefined): number | undefined => (r && Object.keys(r).length > 0 ? Object.values(r).reduce((a, b) => a + b, 0) : undefined);
  const pacedSum = sum(e2e.paced.cpuMsPerRun);
  const bullSum = sum(bull?.paced.cpuMsPerJob);
  if (pacedSum !== undefined) t.row({ section: "e2e", metric: `  paced, cores busy at ${s.pacedRate}/s (CPU per run of every process × rate)`, unit: "", taskwire: (pacedSum * s.pacedRate) / 1000, peer: "BullMQ", peerValue: bullSum !== undefined ? (bullSum * s.pacedRate) / 1000 : undefined });
  // The same paced runs submitted with one unary Submit call each (the client's `submitStream: false`).
  const pu = e2e.pacedUnary;
  if (pu) {
    t.latencies("e2e", `end-to-end latency, paced ${s.pacedRate}/s, one unary Submit call per run`, pu.e2e, { name: "over SubmitStream", p: e2e.paced.e2e });
    const puSum = sum(pu.cpuMsPerRun);
    for (const [k, v] of Object.entries(pu.cpuMsPerRun)) t.row({ section: "e2e", metric: `  paced, one unary Submit call per run, CPU per run: ${k}`, unit: "ms", taskwire: v, peer: "over SubmitStream", peerValue: e2e.paced.cpuMsPerRun[k] });
    if (puSum !== undefined) t.row({ section: "e2e", metric: `  paced, one unary Submit call per run, cores busy at ${s.pacedRate}/s`, unit: "", taskwire: (puSum * s.pacedRate) / 1000, peer: "over SubmitStream", peerValue: pacedSum !== undefined ? (pacedSum * s.pacedRate) / 1000 : undefined });
  }
  for (const [k, v] of Object.entries(e2e.unary.cpuMsPerRun)) t.row({ section: "e2e", metric: `CPU per run, one Submit call per run: ${k}`, unit: "ms", taskwire: v });
  // The worker's CPU next to BullMQ's worker, nats-server's next to redis-server's.
  const peerOf: Record<string, [string, number | undefined]> = { worker: ["BullMQ worker", bull?.cpuMsPerJob.worker], natsServer: ["redis-server", bull?.cpuMsPerJob.redis] };
  for (const [k, v] of Object.entries(e2e.cpuMsPerRun)) {
    const peerValue = peerOf[k]?.[1];
    const target = k === "worker" ? { target: "≤ BullMQ worker", met: peerValue !== undefined ? v <= peerValue : undefined } : {};
    t.row({ section: "e2e", metric: `CPU per run: ${k}`, unit: "ms", taskwire: v, peer: peerOf[k]?.[0], peerValue, ...target });
  }
}

function foldRows(t: Table, s: Settings, { fold, e2e, drain, bullmq: bull }: Partial<Figures>): void {
  if (!fold) return;
  const n = s.e2eN.toLocaleString("en-US");
  const opt = `opt-in TASKWIRE_START_RECORD_DELAY_MS=${FOLD_DELAY_MS}`;
  t.row({ section: "fold", metric: `completed per second (${n} no-op, worker c64), ${opt}`, unit: "/s", taskwire: fold.burst.completedRate, peer: "BullMQ", peerValue: bull?.completedRate });
  if (e2e) t.row({ section: "fold", metric: `  same, next to the default worker (RUNNING before the start)`, unit: "/s", taskwire: fold.burst.completedRate, peer: "default", peerValue: e2e.completedRate });
  t.row({ section: "fold", metric: `worker drain rate (${n} preloaded, c64), ${opt}`, unit: "/s", taskwire: fold.drain.rate, peer: "BullMQ", peerValue: bull?.drainRate });
  if (drain) t.row({ section: "fold", metric: `  same, next to the default worker`, unit: "/s", taskwire: fold.drain.rate, peer: "default", peerValue: drain.rate });
  t.latencies("fold", `end-to-end latency, paced ${s.pacedRate}/s, ${opt}`, fold.paced.e2e, bull ? { name: "BullMQ", p: bull.paced.e2e } : undefined);
  t.latencies("fold", `dispatch latency (broker receipt → start), paced ${s.pacedRate}/s, ${opt}`, fold.paced.dispatchFromReceipt);
  const peerOf: Record<string, [string, number | undefined]> = { worker: ["BullMQ worker", bull?.cpuMsPerJob.worker], natsServer: ["redis-server", bull?.cpuMsPerJob.redis] };
  for (const [k, v] of Object.entries(fold.burst.cpuMsPerRun)) t.row({ section: "fold", metric: `CPU per run, ${opt}: ${k}`, unit: "ms", taskwire: v, peer: peerOf[k]?.[0], peerValue: peerOf[k]?.[1] });
}

function languageRows(t: Table, s: Settings, { languages: l }: Partial<Figures>): void {
  if (!l) return;
  const n = s.e2eN.toLocaleString("en-US");
  const ts = l.ts.rate;
  t.row({ section: "workers", metric: `drain rate, TS worker (own NATS connection; ${n} no-op, c64)`, unit: "/s", taskwire: ts });
  t.row({ section: "workers", metric: `drain rate, Python worker (WorkerService; async def)`, unit: "/s", taskwire: l.python.rate, peer: "TS worker", peerValue: ts });
  t.row({ section: "workers", metric: `drain rate, Go worker (WorkerService)`, unit: "/s", taskwire: l.go.rate, peer: "TS worker", peerValue: ts });
  for (const [lang, label] of [["ts", "TS"], ["python", "Python"], ["go", "Go"]] as const) {
    const c = l[lang].cpuMsPerRun;
    if (!c) continue;
    t.row({ section: "workers", metric: `CPU per run, ${label} drain: worker / broker`, unit: "ms", taskwire: c.worker, peer: "broker", peerValue: c.broker });
  }
}

function multiRows(t: Table, s: Settings, { multi: m }: Partial<Figures>): void {
  if (!m) return;
  const n = s.e2eN.toLocaleString("en-US");
  const procs = `${m.brokers} brokers + ${m.workers} workers`;
  const base = `1 broker + 1 worker${m.baseline.from === "e2e phase" ? "" : " (this phase)"}`;
  t.row({ section: "multi", metric: `completed per second, ${procs} (c64 each; ${n} no-op, half to each broker)`, unit: "/s", taskwire: m.completedRate, peer: base, peerValue: m.baseline.completedRate });
  t.row({ section: "multi", metric: `  submit rate, ${procs}`, unit: "/s", taskwire: m.submitRate, peer: base, peerValue: m.baseline.submitRate });
  t.latencies("multi", `end-to-end latency, ${procs}, ${n} burst`, m.e2e, { name: base, p: m.baseline.e2e });
  const cpu = m.cpuMsPerRun;
  const b = m.baseline.cpuMsPerRun;
  t.row({ section: "multi", metric: `CPU per run: brokers (sum of ${m.brokers})`, unit: "ms", taskwire: cpu.brokers, peer: `${base}: broker`, peerValue: b.brokers });
  t.row({ section: "multi", metric: `CPU per run: workers (sum of ${m.workers})`, unit: "ms", taskwire: cpu.workers, peer: `${base}: worker`, peerValue: b.workers });
  t.row({ section: "multi", metric: "CPU per run: natsServer", unit: "ms", taskwire: cpu.natsServer, peer: base, peerValue: b.natsServer });
  t.row({ section: "multi", metric: "CPU per run: loadGenerator", unit: "ms", taskwire: cpu.loadGenerator, peer: base, peerValue: b.loadGenerator });
}

function memoryRows(t: Table, { memory: mem }: Partial<Figures>): void {
  if (!mem) return;
  t.row({ section: "memory", metric: "broker RSS, idle", unit: "MiB", taskwire: mem.idleMiB });
  t.row({ section: "memory", metric: `broker RSS, ${mem.queued.toLocaleString("en-US")} runs queued`, unit: "MiB", taskwire: mem.queuedMiB, target: "≤ 200 MB", met: mem.queuedMiB * 1.048576 <= 200 });
  t.row({ section: "memory", metric: "broker peak RSS (VmHWM) while queueing", unit: "MiB", taskwire: mem.peakMiB });
}

function scaleRows(t: Table, { scale: sc, submit: sub, drain }: Partial<Figures>): void {
  if (!sc) return;
  const n = sc.runs.toLocaleString("en-US");
  t.row({ section: "scale", metric: `SubmitBatch queueing ${n} runs, no worker`, unit: "run/s", taskwire: sc.queueRate, peer: sub ? "SubmitBatch, empty queue" : undefined, peerValue: sub?.batch.rate });
  t.row({ section: "scale", metric: `worker drain rate, ${n} preloaded (c64)`, unit: "/s", taskwire: sc.drainRate, peer: drain ? "drain phase" : undefined, peerValue: drain?.rate });
  for (const p of ["p50", "p99", "max"] as const) {
    t.row({ section: "scale", metric: `Submit latency at ${PROBE_RATE}/s (open loop), ${n} runs queued, ${p}`, unit: "ms", taskwire: sc.submitQueued.lat[p], peer: "empty queue", peerValue: sc.submitIdle.lat[p] });
  }
  t.row({ section: "scale", metric: `broker RSS: idle → ${n} queued`, unit: "MiB", taskwire: sc.broker.queued.rss, peer: "idle", peerValue: sc.broker.idle.rss });
  t.row({ section: "scale", metric: `broker RSS after the drain (${n} retained)`, unit: "MiB", taskwire: sc.broker.drained.rss, peer: "idle", peerValue: sc.broker.idle.rss });
  t.row({ section: "scale", metric: "broker peak RSS (VmHWM), whole phase", unit: "MiB", taskwire: sc.broker.drained.hwm });
  t.row({ section: "scale", metric: `nats-server RSS: idle → ${n} queued`, unit: "MiB", taskwire: sc.natsServer.queued.rss, peer: "idle", peerValue: sc.natsServer.idle.rss });
  t.row({ section: "scale", metric: `nats-server RSS after the drain (${n} retained)`, unit: "MiB", taskwire: sc.natsServer.drained.rss, peer: "idle", peerValue: sc.natsServer.idle.rss });
  t.row({ section: "scale", metric: "nats-server peak RSS (VmHWM, since the bench started it)", unit: "MiB", taskwire: sc.natsServer.drained.hwm });
  t.row({ section: "scale", metric: "worker peak RSS (VmHWM) while draining", unit: "MiB", taskwire: sc.workerPeakMiB });
  const q = sc.disk.queued.TASKWIRE_RUNS;
  t.row({ section: "scale", metric: `disk per 100,000 runs queued: TASKWIRE_RUNS (du)`, unit: "MiB", taskwire: q.diskMiBPer100k, peer: "stream state.bytes", peerValue: q.stateMiBPer100k });
  for (const name of SCALE_STREAMS) {
    const d = sc.disk.drained[name];
    t.row({ section: "scale", metric: `disk per 100,000 runs retained after the drain: ${name} (du; ${d.messages.toLocaleString("en-US")} messages)`, unit: "MiB", taskwire: d.diskMiBPer100k, peer: "stream state.bytes", peerValue: d.stateMiBPer100k });
  }
}

export function listingRows(t: Table, l: ListingFigures): void {
  const n = l.runs.toLocaleString("en-US");
  t.latencies("listing", `ListRuns first page (50), ${n} runs retained,`, l.firstPage, undefined, { p50: 50 });
  t.latencies("listing", "ListRuns next pages (page token)", l.nextPages);
  t.latencies("listing", "ListRuns filter matching nothing (unknown task)", l.emptyTask, undefined, { p50: 200 });
  t.latencies("listing", "ListRuns filter matching nothing (RUNNING/PENDING, none queued)", l.emptyRunning, undefined, { p50: 200 });
  t.latencies("listing", "ListRuns selective filter (a task with 1 % of runs), first page", l.selective);
  t.latencies("listing", "ListRuns selective filter (a task with 0.01 % of runs), all of it", l.rare);
  t.latencies("listing", `ListRuns state FAILED (0.5 % of runs), one call (found ${l.failedFound})`, l.failed);
  t.row({ section: "listing", metric: `ListRuns state FAILED: ${l.failedPage.found} found in ${l.failedPage.calls} calls (each going on from the last's token), all calls`, unit: "ms", taskwire: l.failedPage.ms });
  t.row({ section: "listing", metric: "broker RSS before listing", unit: "MiB", taskwire: l.rssIdleMiB });
  t.row({ section: "listing", metric: "broker RSS after listing", unit: "MiB", taskwire: l.rssAfterMiB, peer: "before", peerValue: l.rssIdleMiB });
  t.row({ section: "listing", metric: "broker peak RSS (VmHWM)", unit: "MiB", taskwire: l.hwmMiB });
  t.row({ section: "listing", metric: "run index on disk per 100,000 runs", unit: "MiB", taskwire: l.indexBytesPer100k / 2 ** 20 });
  t.row({ section: "listing", metric: "run records on disk per 100,000 runs (for scale)", unit: "MiB", taskwire: l.recordBytesPer100k / 2 ** 20 });
}

const COST_LABELS: Record<string, string> = {
  runPublishes: "TASKWIRE_RUNS publishes",
  kvWrites: "KV taskwire_runs writes",
  indexPublishes: "TASKWIRE_INDEX publishes (the run index)",
  delivered: "consumer deliveries",
  acked: "acks (ack floor)",
  apiTotal: "JetStream API requests",
  inMsgs: "NATS messages in (server)",
  outMsgs: "NATS messages out (server)",
  inBytes: "bytes in (server)",
  outBytes: "bytes out (server)",
};

function costRows(t: Table, { costPerRun: cost }: Partial<Figures>): void {
  if (!cost) return;
  for (const [k, label] of Object.entries(COST_LABELS)) t.row({ section: "cost/run", metric: label, unit: "", taskwire: cost[k] });
}
