// The end-to-end floor: the design's operations alone, end to end. Where
// the drain floor (drain-floor.ts) measures what a worker's NATS work can
// reach, this measures what the whole path can, with every process kept but
// none of taskwire's logic: the load generator submits over one long-lived
// gRPC stream, a turn's Submits per message (as the TS client's
// SubmitStream does); a raw grpc-js "broker" (floor-broker.ts, its own
// process) does Submit's NATS work — record and index entry in parallel,
// then the message — and follows the record history; a raw "worker"
// (floor-worker.ts, its own process) claims, records the outcome and acks
// (the default path: the claim is durable before the task starts). The
// same burst and the same paced rate as the e2e phase, so the table sets
// the floor beside taskwire and BullMQ in the same run: what no
// implementation of this design — a gRPC broker in Node.js, a worker in
// Node.js, three durable writes per run on nats-server — can beat here.
import { join } from "node:path";
import { credentials, loadPackageDefinition, type ClientDuplexStream, type ServiceClientConstructor } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { SubmitRequest } from "@taskwire/protocol";
import { submitReq, waitDrained } from "../runs.js";
import type { Nats } from "../servers.js";
import { CONC, type Settings } from "../settings.js";
import { DEPLOYED_NODE_FLAGS, type Stack } from "../stack.js";
import { BENCH, type Child, closedLoop, cpuMeter, log, openLoop, type PacedCosts, pacedMeter, type Pcts, pcts, round, roundValues, startTsChild, waitFor, wallNow } from "../util.js";

export interface FloorE2EVariant {
  burst: { completedRate: number; completed: number; submitted: number; submitRate: number; e2e: Pcts; dispatch: Pcts; cpuMsPerRun: Record<string, number> };
  paced: PacedCosts & { completed: number; sent: number; e2e: Pcts; dispatch: Pcts; submitRoundTrip: Pcts; dispatchFromAnswer: Pcts };
}

export interface FloorE2E extends FloorE2EVariant {
  /** The same with the start folded into the outcome (one compare-and-set write per run in the worker, not two). */
  fold: FloorE2EVariant;
  /**
   * The least NATS work of any design with a record per run and a queued
   * message: the start folded, and no index entry and no record history
   * follower in the broker (a Submit is the record's create, then the
   * message; a run's worker makes one compare-and-set write and acks).
   */
  min?: FloorE2EVariant;
}

const BUCKET = "bench_floor_e2e";
const KV_STREAM = `KV_${BUCKET}`;
const INDEX_STREAM = "BENCH_FLOOR_E2E_INDEX";
const INDEX_SUBJECT = "bench.floore2e.idx.default.default.bench_noop";
const QUEUE_STREAM = "BENCH_FLOOR_E2E_RUNS";
const QUEUE_SUBJECT = "bench.floore2e.runs.default.bench_noop";
const CONSUMER = "floor_e2e";
const REQUEST = Buffer.from(SubmitRequest.encode(submitReq).finish());
const DEDUPE_NS = 120_000 * 1_000_000;

interface Sent {
  start: number;
  /** When the Submit's answer reached the load generator. */
  accepted: number;
}

type SubmitCall = ClientDuplexStream<{ id: number; runs: Buffer[] }, { id: string; ids: string[] }>;

/** The load generator's side of the floor's Submit stream: a turn's Submits are one message, answered by id. */
class FloorSubmitter {
  readonly #call: SubmitCall;
  readonly #waiting = new Map<number, { resolve(ids: string[]): void; reject(err: Error): void }>();
  #queued: { resolve(id: string): void; reject(err: Error): void }[] = [];
  #next = 1;
  #failed: Error | undefined;

  constructor(address: string) {
    const def = loadSync(join(BENCH, "src/floor.proto"), { longs: String });
    const Floor = (loadPackageDefinition(def) as unknown as { benchfloor: { Floor: ServiceClientConstructor } }).benchfloor.Floor;
    const client = new Floor(address, credentials.createInsecure());
    this.#call = (client as unknown as { Submit(): SubmitCall }).Submit();
    this.#call.on("data", (m: { id: string; ids: string[] }) => {
      const w = this.#waiting.get(Number(m.id));
      this.#waiting.delete(Number(m.id));
      w?.resolve(m.ids);
    });
    // A broken stream fails every Submit waiting on it (and every later one), so the phase ends with the error instead of waiting.
    this.#call.on("error", (err: Error) => {
      this.#failed = err;
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
    });
  }

  submit(): Promise<string> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise<string>((resolve, reject) => {
      if (this.#queued.push({ resolve, reject }) === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const turn = this.#queued;
    this.#queued = [];
    if (this.#failed) return turn.forEach((q) => q.reject(this.#failed!));
    const id = this.#next++;
    this.#waiting.set(id, { resolve: (ids) => turn.forEach((q, i) => q.resolve(ids[i] ?? "")), reject: (err) => turn.forEach((q) => q.reject(err)) });
    this.#call.write({ id, runs: turn.map(() => REQUEST) });
  }

  close(): void {
    this.#call.end();
  }
}

/** Creates the floor's bucket and streams (the layout of taskwire's, one replica, file storage). */
async function createStreams(js: JetStreamClient, jsm: JetStreamManager): Promise<void> {
  await new Kvm(js).create(BUCKET, { history: 64, storage: StorageType.File, allow_direct: true });
  await jsm.streams.add({ name: INDEX_STREAM, subjects: ["bench.floore2e.idx.>"], retention: RetentionPolicy.Limits, storage: StorageType.File, duplicate_window: DEDUPE_NS, allow_direct: true });
  await jsm.streams.add({ name: QUEUE_STREAM, subjects: ["bench.floore2e.runs.>"], retention: RetentionPolicy.Workqueue, storage: StorageType.File, duplicate_window: DEDUPE_NS });
  await jsm.consumers.add(QUEUE_STREAM, { durable_name: CONSUMER, filter_subject: QUEUE_SUBJECT, ack_policy: AckPolicy.Explicit, ack_wait: 10_000 * 1_000_000 });
}

async function deleteStreams(jsm: JetStreamManager): Promise<void> {
  for (const s of [QUEUE_STREAM, INDEX_STREAM, KV_STREAM]) await jsm.streams.delete(s).catch(() => false);
}

/** Every run's start and finish, from the outcome revision of its record (the last one), read with an ordered consumer. */
async function outcomes(js: JetStreamClient, jsm: JetStreamManager): Promise<Map<string, { started: number; finished: number }>> {
  const out = new Map<string, { started: number; finished: number }>();
  const want = (await jsm.streams.info(KV_STREAM, { subjects_filter: ">" })).state.num_subjects ?? 0;
  if (want === 0) return out;
  const c = await js.consumers.get(KV_STREAM, { deliver_policy: DeliverPolicy.LastPerSubject, filter_subjects: `$KV.${BUCKET}.>` });
  const dec = new TextDecoder();
  const it = await c.consume();
  const timer = setTimeout(() => it.stop(), 120_000);
  for await (const m of it) {
    const nl = m.data.indexOf(10);
    const [a, b] = dec.decode(m.data.subarray(0, Math.min(nl, 64))).split(" ");
    const started = Number(a);
    const finished = Number(b);
    if (Number.isFinite(started) && Number.isFinite(finished) && started > 1e12) out.set(m.subject.slice(`$KV.${BUCKET}.`.length), { started, finished });
    if (m.info.pending === 0) break;
  }
  clearTimeout(timer);
  return out;
}

function latencies(sent: Map<string, Sent>, done: Map<string, { started: number; finished: number }>): { e2e: Pcts; dispatch: Pcts; submitRoundTrip: Pcts; dispatchFromAnswer: Pcts; completed: number; firstStart: number; lastFinish: number } {
  const e2e: number[] = [];
  const dispatch: number[] = [];
  const roundTrip: number[] = [];
  const fromAnswer: number[] = [];
  let firstStart = Infinity;
  let lastFinish = 0;
  for (const [id, s] of sent) {
    firstStart = Math.min(firstStart, s.start);
    const d = done.get(id);
    if (!d) continue;
    dispatch.push(d.started - s.start);
    e2e.push(d.finished - s.start);
    roundTrip.push(s.accepted - s.start);
    fromAnswer.push(d.started - s.accepted);
    lastFinish = Math.max(lastFinish, d.finished);
  }
  return { e2e: pcts(e2e), dispatch: pcts(dispatch), submitRoundTrip: pcts(roundTrip), dispatchFromAnswer: pcts(fromAnswer), completed: e2e.length, firstStart, lastFinish };
}

async function purgeAll(jsm: JetStreamManager): Promise<void> {
  for (const s of [QUEUE_STREAM, INDEX_STREAM, KV_STREAM]) await jsm.streams.purge(s);
}

/**
 * Runs `measure` against the floor's broker ("full": Submit's whole NATS
 * work and the follower; "min": the record and the message only), started
 * for it and stopped after.
 */
async function onFloorBroker<T>(nats: Nats, mode: "full" | "min", measure: (broker: Child, sub: FloorSubmitter) => Promise<T>): Promise<T> {
  const child = startTsChild(mode === "full" ? "floor-broker" : "floor-broker-min", join(BENCH, "src/floor-broker.ts"), [nats.url, BUCKET, INDEX_SUBJECT, QUEUE_SUBJECT, mode], {}, [...DEPLOYED_NODE_FLAGS]);
  let sub: FloorSubmitter | undefined;
  try {
    const port = await waitFor(() => /port (\d+)/.exec(child.output())?.[1] ?? (child.proc.exitCode !== null && Promise.reject(new Error(child.output()))), `floor broker (${mode})`, 60_000, 20);
    sub = new FloorSubmitter(`127.0.0.1:${port}`);
    return await measure(child, sub);
  } finally {
    sub?.close();
    await child.stop().catch(() => undefined);
  }
}

/** The burst and the paced run through the floor's broker and worker, each in its own process; then again with the start folded; then the least NATS work. */
export async function e2eFloor(s: Settings, nats: Nats, stack: Stack): Promise<FloorE2E> {
  log(`floor e2e: the design's operations alone, end to end (raw grpc-js broker and NATS worker, no taskwire logic): ${s.e2eN} runs at c${CONC}, then paced ${s.pacedRate}/s`);
  const { jsm } = stack;
  await deleteStreams(jsm);
  await createStreams(stack.js, jsm);
  try {
    const [main, fold] = await onFloorBroker(nats, "full", async (b, sub) => [await floorVariant(s, nats, stack, b, sub, 2), await floorVariant(s, nats, stack, b, sub, 1)] as const);
    log("floor e2e, the least NATS work: no index entry, no record history follower, the start folded");
    const min = await onFloorBroker(nats, "min", (b, sub) => floorVariant(s, nats, stack, b, sub, 1));
    return { ...main, fold, min };
  } finally {
    await deleteStreams(jsm);
  }
}

/** One variant: a fresh worker making `writes` compare-and-set writes per run, warmed up, then the burst and the paced run. */
async function floorVariant(s: Settings, nats: Nats, stack: Stack, broker: Child, sub: FloorSubmitter, writes: 1 | 2): Promise<FloorE2EVariant> {
  const { js, jsm } = stack;
  const worker = startTsChild(`floor-worker-${writes}`, join(BENCH, "src/floor-worker.ts"), [nats.url, BUCKET, QUEUE_STREAM, CONSUMER, String(writes)], {}, [...DEPLOYED_NODE_FLAGS]);
  try {
    await waitFor(() => worker.output().includes("ready") || (worker.proc.exitCode !== null && Promise.reject(new Error(worker.output()))), "floor worker", 60_000, 20);
    // Warm-up: both processes' code paths compiled before anything is measured.
    await closedLoop(CONC, 2_000, 30_000, async () => void (await sub.submit()));
    await waitDrained(jsm, 60_000, QUEUE_STREAM, CONSUMER);
    await purgeAll(jsm);

    const how = writes === 2 ? "claim, then outcome" : "start folded into the outcome";
    const pids = { broker: broker.proc.pid!, worker: worker.proc.pid!, natsServer: nats.child.proc.pid!, loadGenerator: process.pid };
    const sent = new Map<string, Sent>();
    const cpu0 = cpuMeter(pids);
    const r = await closedLoop(CONC, s.e2eN, 300_000, async () => {
      const start = wallNow();
      const id = await sub.submit();
      sent.set(id, { start, accepted: wallNow() });
    });
    await waitDrained(jsm, 600_000, QUEUE_STREAM, CONSUMER);
    const cpu = cpu0.msPer(r.done);
    const lb = latencies(sent, await outcomes(js, jsm));
    const burst = { completedRate: (lb.completed / (lb.lastFinish - lb.firstStart)) * 1000, completed: lb.completed, submitted: r.done, submitRate: (r.done / r.ms) * 1000, e2e: lb.e2e, dispatch: lb.dispatch, cpuMsPerRun: cpu };
    log(`  burst (${how}): completed ${lb.completed}/${r.done} at ${round(burst.completedRate, 0)}/s; dispatch p50 ${round(lb.dispatch.p50)} p99 ${round(lb.dispatch.p99)}; e2e p50 ${round(lb.e2e.p50)} p99 ${round(lb.e2e.p99)} ms; CPU ms/run ${JSON.stringify(roundValues(cpu, 3))}`);
    await purgeAll(jsm);

    const sentP = new Map<string, Sent>();
    const meter = pacedMeter(pids);
    const ol = await openLoop(s.pacedRate, s.pacedMs, async () => {
      const start = wallNow();
      const id = await sub.submit();
      sentP.set(id, { start, accepted: wallNow() });
    });
    const costs = meter.stop(ol.sent);
    await waitDrained(jsm, 120_000, QUEUE_STREAM, CONSUMER);
    const lp = latencies(sentP, await outcomes(js, jsm));
    log(`  paced (${how}): completed ${lp.completed}/${ol.sent}; dispatch p50 ${round(lp.dispatch.p50)} p99 ${round(lp.dispatch.p99)}; e2e p50 ${round(lp.e2e.p50)} p99 ${round(lp.e2e.p99)} ms; Submit round trip p50 ${round(lp.submitRoundTrip.p50)} p99 ${round(lp.submitRoundTrip.p99)}, answer → start p50 ${round(lp.dispatchFromAnswer.p50)} ms; CPU ms/run ${JSON.stringify(roundValues(costs.cpuMsPerRun, 3))}; wake-ups/run ${JSON.stringify(roundValues(costs.wakeupsPerRun, 2))}`);
    await purgeAll(jsm);
    return { burst, paced: { ...costs, completed: lp.completed, sent: ol.sent, e2e: lp.e2e, dispatch: lp.dispatch, submitRoundTrip: lp.submitRoundTrip, dispatchFromAnswer: lp.dispatchFromAnswer } };
  } finally {
    await worker.stop().catch(() => undefined);
  }
}
