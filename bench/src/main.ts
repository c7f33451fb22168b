// taskwire benchmark suite (issue 4). Run through bench/run.sh (`make bench`,
// `make bench-quick`), or directly:
//   node --conditions=taskwire-source --import tsx bench/src/main.ts [--quick] [--profile] [--skip-bullmq]
// Starts every server it needs on 127.0.0.1 with temporary stores, measures
// taskwire next to its ceilings and BullMQ in the same run, prints one table
// and writes bench/results/latest.json plus a timestamped copy.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { credentials, loadPackageDefinition, type Client as GrpcClient, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Client, decodeJson, encodeArgs, RunState, type TaskRun } from "@taskwire/client";
import { SubmitBatchRequest, SubmitRequest } from "@taskwire/protocol";
import { RUNS_BUCKET_STREAM, RUNS_STREAM, taskConsumerName } from "@taskwire/core";
import { decodeRun } from "@taskwire/protocol";
import { Queue } from "bullmq";
import { freePort, type Nats, type Redis, startNats, startRedis } from "./servers.js";
import {
  BENCH,
  type Child,
  closedLoop,
  cpuSeconds,
  killAllChildrenSync,
  machineBusySeconds,
  machineInfo,
  openLoop,
  PAYLOAD,
  type Pcts,
  pcts,
  portOpen,
  REPO,
  round,
  rssMiB,
  sleep,
  startChild,
  startTsChild,
  stopAllChildren,
  waitFor,
  wallNow,
} from "./util.js";

// ---------------------------------------------------------------- settings

const argv = new Set(process.argv.slice(2));
const QUICK = argv.has("--quick");
const PROFILE = argv.has("--profile");
const SKIP_BULLMQ = argv.has("--skip-bullmq");
const CONC = 64;
const TASK = "bench_noop";

const S = QUICK
  ? { rawN: 20_000, closedMs: 3_000, openRate: 1_000, openMs: 5_000, batchSize: 100, batchConc: 4, batchMs: 3_000, e2eN: 5_000, pacedRate: 1_000, pacedMs: 5_000, memN: 20_000, costN: 500 }
  : { rawN: 100_000, closedMs: 10_000, openRate: 1_000, openMs: 20_000, batchSize: 100, batchConc: 4, batchMs: 10_000, e2eN: 50_000, pacedRate: 1_000, pacedMs: 15_000, memN: 100_000, costN: 2_000 };

const PROF_DIR = join(BENCH, "results", "profiles", new Date().toISOString().replace(/[:.]/g, "-"));
/** The compiled CLI (bench/run.sh builds it): broker and worker run as deployed, not through tsx. */
const CLI = join(REPO, "cli/dist/main.js");

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// ---------------------------------------------------------------- results

interface Row {
  section: string;
  metric: string;
  unit: string;
  taskwire?: number;
  /** What the figure is compared with, and its value. */
  peer?: string;
  peerValue?: number;
  ratio?: number;
  target?: string;
  met?: boolean;
}

const rows: Row[] = [];
const extra: Record<string, unknown> = {};

function row(r: Row): void {
  if (r.ratio === undefined && r.taskwire !== undefined && r.peerValue !== undefined && r.peerValue !== 0) r.ratio = round(r.taskwire / r.peerValue, 3);
  if (r.taskwire !== undefined) r.taskwire = round(r.taskwire);
  if (r.peerValue !== undefined) r.peerValue = round(r.peerValue);
  rows.push(r);
}

function latRows(section: string, what: string, p: Pcts, peer?: { name: string; p: Pcts }, targets: { p50?: number; p99?: number; p999?: number } = {}, withP999 = false): void {
  const keys: Array<"p50" | "p99" | "p999"> = withP999 ? ["p50", "p99", "p999"] : ["p50", "p99"];
  for (const k of keys) {
    const t = targets[k];
    row({
      section,
      metric: `${what} ${k}`,
      unit: "ms",
      taskwire: p[k],
      peer: peer?.name,
      peerValue: peer?.p[k],
      target: t !== undefined ? `≤ ${t} ms` : undefined,
      met: t !== undefined ? p[k] <= t : undefined,
    });
  }
}

// ---------------------------------------------------------------- helpers

async function startBroker(natsUrl: string, name = "broker"): Promise<{ child: Child; address: string; client: Client }> {
  const port = await freePort();
  const flags = PROFILE ? ["--cpu-prof", "--cpu-prof-dir", PROF_DIR, "--cpu-prof-name", `${name}.cpuprofile`] : [];
  const child = startChild(name, process.execPath, [...flags, CLI, "broker", "--listen", `127.0.0.1:${port}`, "--nats", natsUrl], { TASKWIRE_LOG_LEVEL: "warn" });
  const address = `127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.proc.exitCode !== null) throw new Error(`broker exited: ${child.output()}`);
    return portOpen(port);
  }, "broker port", 60_000);
  // Unary Submits for the Submit phases (what the echo ceiling compares):
  // no coalescing. The e2e phase adds a default client next to it.
  const client = new Client({ address, coalesceSubmits: false });
  // Ready when it answers from NATS (NOT_FOUND for an unknown run).
  await waitFor(async () => {
    try {
      await client.getStatus(randomUUID());
    } catch (err) {
      const code = (err as { code?: number }).code;
      return code === 5 || code === 3; // NOT_FOUND / INVALID_ARGUMENT: answered past the NATS check

    }
    return false;
  }, "broker ready", 60_000, 100);
  return { child, address, client };
}

async function startWorker(nats: Nats, jsm: JetStreamManager, name = "worker"): Promise<Child> {
  const flags = PROFILE ? ["--cpu-prof", "--cpu-prof-dir", PROF_DIR, "--cpu-prof-name", `${name}.cpuprofile`] : [];
  const child = startChild(name, process.execPath, [...flags, CLI, "worker", join(BENCH, "src/tasks.ts"), "--concurrency", String(CONC), "--nats", nats.url], { TASKWIRE_LOG_LEVEL: "warn" });
  await waitFor(async () => {
    if (child.proc.exitCode !== null) throw new Error(`worker exited: ${child.output()}`);
    const ci = await jsm.consumers.info(RUNS_STREAM, taskConsumerName("default", TASK));
    return ci.num_waiting > 0;
  }, "worker ready", 60_000, 100);
  return child;
}

async function purge(jsm: JetStreamManager): Promise<void> {
  await jsm.streams.purge(RUNS_STREAM);
  await jsm.streams.purge(RUNS_BUCKET_STREAM);
}

const submitReq = SubmitRequest.fromPartial({ task: TASK, args: encodeArgs([PAYLOAD]) });
const SUBMIT_BYTES = SubmitRequest.encode(submitReq).finish().length;

/** Waits until every queued run is acked (stream empty, nothing pending), bounded. */
async function waitDrained(jsm: JetStreamManager, timeoutMs: number): Promise<void> {
  await waitFor(async () => {
    const si = await jsm.streams.info(RUNS_STREAM);
    if (si.state.messages > 0) return false;
    const ci = await jsm.consumers.info(RUNS_STREAM, taskConsumerName("default", TASK));
    return ci.num_ack_pending === 0;
  }, "runs drained", timeoutMs, 20);
}

/** Latest record of every run (last revision per key), read with an ordered consumer. */
async function readRecords(js: JetStreamClient, jsm: JetStreamManager): Promise<TaskRun[]> {
  const si = await jsm.streams.info(RUNS_BUCKET_STREAM);
  const out: TaskRun[] = [];
  if (si.state.messages === 0) return out;
  const oc = await js.consumers.get(RUNS_BUCKET_STREAM, { deliver_policy: DeliverPolicy.LastPerSubject });
  const iter = await oc.consume({ max_messages: 1_000 });
  const deadline = Date.now() + 120_000;
  const timer = setTimeout(() => iter.stop(), 120_000);
  for await (const m of iter) {
    if (m.data.length > 0) out.push(decodeRun(m.data));
    if (m.info.pending === 0 || Date.now() > deadline) break;
  }
  clearTimeout(timer);
  iter.stop();
  return out;
}

interface Sent {
  start: number;
  accepted: number;
}

function runLatencies(records: TaskRun[], sent: Map<string, Sent>): { dispatch: Pcts; dispatchFromAnswer: Pcts; dispatchFromReceipt: Pcts; e2e: Pcts; completed: number; firstStart: number; lastFinish: number; negativeDispatch: number } {
  const dispatch: number[] = [];
  const fromAnswer: number[] = [];
  const fromReceipt: number[] = [];
  const e2e: number[] = [];
  let firstStart = Infinity;
  let lastFinish = 0;
  let negative = 0;
  for (const s of sent.values()) firstStart = Math.min(firstStart, s.start);
  for (const r of records) {
    const s = sent.get(r.id);
    if (!s || r.state !== RunState.RUN_STATE_COMPLETED) continue;
    const started = decodeJson(r.result) as number;
    const finished = r.finishedAt?.getTime() ?? NaN;
    const d = started - s.accepted;
    if (d < 0) negative++;
    fromAnswer.push(d);
    // createdAt is the broker's clock when it began handling the Submit,
    // truncated to the millisecond: before the run was accepted, so this
    // is an upper bound of "accepted → started" without the client's half
    // of the Submit round trip.
    fromReceipt.push(started - (r.createdAt?.getTime() ?? NaN));
    dispatch.push(started - s.start);
    e2e.push(finished - s.start);
    lastFinish = Math.max(lastFinish, finished);
  }
  return { dispatch: pcts(dispatch), dispatchFromAnswer: pcts(fromAnswer), dispatchFromReceipt: pcts(fromReceipt), e2e: pcts(e2e), completed: dispatch.length, firstStart, lastFinish, negativeDispatch: negative };
}

// ---------------------------------------------------------------- phases

async function ceilings(nats: Nats): Promise<{ pub: number; consume: number; kvPub: number; kvPubNoTraces: number; echo1: { rate: number; lat: Pcts }; echo64: { rate: number; lat: Pcts; serverCpuMsPerCall: number }; echoOpen: Pcts }> {
  log(`ceilings: raw JetStream publish/consume of ${S.rawN} messages`);
  const nc = await connect({ servers: nats.url, name: "bench-raw" });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const stream = "BENCH_RAW";
  await jsm.streams.add({ name: stream, subjects: ["bench.raw.>"], retention: RetentionPolicy.Workqueue, storage: StorageType.File, duplicate_window: 120_000 * 1_000_000 });
  const data = new TextEncoder().encode(JSON.stringify(PAYLOAD));
  try {
    const p = await closedLoop(CONC, S.rawN, 120_000, async () => {
      await js.publish("bench.raw.default.bench_noop", data);
    });
    const pub = (p.done / p.ms) * 1000;
    await jsm.consumers.add(stream, { durable_name: "raw", ack_policy: AckPolicy.Explicit, max_ack_pending: -1 });
    const c = await js.consumers.get(stream, "raw");
    const t0 = performance.now();
    const iter = await c.consume({ max_messages: CONC });
    let n = 0;
    const timer = setTimeout(() => iter.stop(), 120_000);
    for await (const m of iter) {
      m.ack();
      if (++n >= p.done) break;
    }
    await nc.flush();
    const consume = (n / (performance.now() - t0)) * 1000;
    clearTimeout(timer);
    iter.stop();
    log(`  publish ${round(pub, 0)}/s, consume+ack ${round(consume, 0)}/s`);

    // The broker's JetStream work per Submit without gRPC: a KV create (the
    // run record) then a stream publish, in sequence, 64 in flight.
    const kv = await new Kvm(js).create("bench_raw_kv", { history: 64, storage: StorageType.File, allow_direct: true });
    const record = new Uint8Array(SUBMIT_BYTES * 3).fill(1);
    const c1 = process.cpuUsage();
    const kp = await closedLoop(CONC, S.rawN / 2, 120_000, async () => {
      const id = randomUUID();
      await kv.create(id, record);
      await js.publish("bench.raw.default.bench_noop", data, { msgID: id });
    });
    const kvPub = (kp.done / kp.ms) * 1000;
    const cpu1 = process.cpuUsage(c1);
    await kv.destroy();
    // The same with nats.js's per-request async stack traces off (noAsyncTraces).
    const nc2 = await connect({ servers: nats.url, name: "bench-raw-notraces", noAsyncTraces: true });
    const js2 = jetstream(nc2);
    const kv2 = await new Kvm(js2).create("bench_raw_kv2", { history: 64, storage: StorageType.File, allow_direct: true });
    const c0 = process.cpuUsage();
    const kp2 = await closedLoop(CONC, S.rawN / 2, 120_000, async () => {
      const id = randomUUID();
      await kv2.create(id, record);
      await js2.publish("bench.raw.default.bench_noop", data, { msgID: id });
    });
    const cpu2 = process.cpuUsage(c0);
    const kvPubNoTraces = (kp2.done / kp2.ms) * 1000;
    await kv2.destroy();
    await nc2.close();
    extra.kvCeiling = { kvPub, kvPubNoTraces, clientCpuMsPerOp: (cpu1.user + cpu1.system) / 1000 / kp.done, clientCpuMsPerOpNoTraces: (cpu2.user + cpu2.system) / 1000 / kp2.done };
    log(`  KV create + publish ${round(kvPub, 0)}/s; with noAsyncTraces ${round(kvPubNoTraces, 0)}/s`);

    // Raw grpc-js unary echo, server in its own process, request of Submit's size.
    const srv = startTsChild("echo-server", join(BENCH, "src/echo-server.ts"), []);
    try {
      const port = Number((await waitFor(() => /port (\d+)/.exec(srv.output())?.[1], "echo server", 60_000, 50)));
      const def = loadSync(join(BENCH, "src/echo.proto"));
      const pkg = loadPackageDefinition(def) as unknown as { bench: { Echo: new (addr: string, creds: ReturnType<typeof credentials.createInsecure>, opts: object) => GrpcClient & { Echo: (req: unknown, cb: (e: ServiceError | null, r: unknown) => void) => void } } };
      const client = new pkg.bench.Echo(`127.0.0.1:${port}`, credentials.createInsecure(), { "grpc.keepalive_time_ms": 30_000, "grpc.enable_channelz": 0 });
      const req = { data: Buffer.alloc(SUBMIT_BYTES, 1) };
      const call = (): Promise<void> => new Promise((res, rej) => client.Echo(req, (e) => (e ? rej(e) : res())));
      await closedLoop(CONC, 2_000, 5_000, call); // warm-up
      const echo = async (conc: number): Promise<{ rate: number; lat: Pcts; serverCpuMsPerCall: number }> => {
        const lat: number[] = [];
        const cpu0 = cpuSeconds(srv.proc.pid!);
        const r = await closedLoop(conc, 10_000_000, S.closedMs, async () => {
          const t = performance.now();
          await call();
          lat.push(performance.now() - t);
        });
        return { rate: (r.done / r.ms) * 1000, lat: pcts(lat), serverCpuMsPerCall: ((cpuSeconds(srv.proc.pid!) - cpu0) * 1000) / r.done };
      };
      const echo1 = await echo(1);
      const echo64 = await echo(CONC);
      // The same open-loop generator and rate as Submit's: the latency
      // floor of one grpc-js hop (plus the generator's own timer jitter and
      // GC) on this machine.
      const ol = await openLoop(S.openRate, S.openMs, call);
      const echoOpen = pcts(ol.lat);
      log(`  grpc echo c1 ${round(echo1.rate, 0)}/s, c64 ${round(echo64.rate, 0)}/s; open loop ${S.openRate}/s p50 ${round(echoOpen.p50)} p99 ${round(echoOpen.p99)} p999 ${round(echoOpen.p999)} ms`);
      client.close();
      return { pub, consume, kvPub, kvPubNoTraces, echo1, echo64, echoOpen };
    } finally {
      await srv.stop();
    }
  } finally {
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  }
}

function selfCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function submitPhases(client: Client, jsm: JetStreamManager, brokerPid: number, natsPid: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  await closedLoop(CONC, 2_000, 5_000, async () => void (await client.submitRaw(submitReq))); // warm-up
  await purge(jsm);
  // The SDK (Client.submitRaw: deadline, metadata, client span) at c1 and
  // c64, then the generated grpc-js stub called exactly like the echo
  // ceiling's client (no deadline, no metadata): the same client on both
  // sides, so the ratio compares the servers.
  const raw = client.raw;
  const viaSdk = (): Promise<unknown> => client.submitRaw(submitReq);
  const viaStub = (): Promise<void> => new Promise<void>((res, rej) => raw.submit(submitReq, (e) => (e ? rej(e) : res())));
  for (const [key, conc, call] of [["c1", 1, viaSdk], ["c64", CONC, viaSdk], ["c64stub", CONC, viaStub]] as const) {
    log(`submit: closed loop, concurrency ${conc}${key === "c64stub" ? ", generated stub like the echo client" : ""}, ${S.closedMs} ms`);
    const lat: number[] = [];
    const cpu0 = cpuSeconds(brokerPid);
    const n0 = cpuSeconds(natsPid);
    const b0 = selfCpu();
    const m0 = machineBusySeconds();
    const r = await closedLoop(conc, 10_000_000, S.closedMs, async () => {
      const t = performance.now();
      await call();
      lat.push(performance.now() - t);
    });
    const cpu = cpuSeconds(brokerPid) - cpu0;
    const natsCpu = cpuSeconds(natsPid) - n0;
    const benchCpu = selfCpu() - b0;
    const util = { broker: cpu / (r.ms / 1000), natsServer: natsCpu / (r.ms / 1000), loadGenerator: benchCpu / (r.ms / 1000), wholeMachine: (machineBusySeconds() - m0) / (r.ms / 1000) };
    out[key] = { rate: (r.done / r.ms) * 1000, lat: pcts(lat), brokerCpuMsPerSubmit: (cpu * 1000) / r.done, coresBusy: util };
    log(`  ${round((r.done / r.ms) * 1000, 0)}/s p50 ${round(pcts(lat).p50)} p99 ${round(pcts(lat).p99)} ms; broker CPU ${round((cpu * 1000) / r.done, 3)} ms/submit; cores busy ${JSON.stringify(Object.fromEntries(Object.entries(util).map(([k, v]) => [k, round(v, 2)])))}`);
    await purge(jsm);
  }
  log(`submit: open loop at ${S.openRate}/s for ${S.openMs} ms`);
  const ol = await openLoop(S.openRate, S.openMs, async () => void (await client.submitRaw(submitReq)));
  out.open = { lat: pcts(ol.lat), sent: ol.sent, errors: ol.errors, achieved: (ol.lat.length / ol.ms) * 1000 };
  log(`  p50 ${round(pcts(ol.lat).p50)} p99 ${round(pcts(ol.lat).p99)} p99.9 ${round(pcts(ol.lat).p999)} ms, errors ${ol.errors}`);
  await purge(jsm);

  log(`submit: SubmitBatch of ${S.batchSize}, ${S.batchConc} concurrent, ${S.batchMs} ms`);
  const batchReq = SubmitBatchRequest.fromPartial({ runs: Array.from({ length: S.batchSize }, () => submitReq) });
  const b = await closedLoop(S.batchConc, 10_000_000, S.batchMs, () => new Promise<void>((res, rej) => raw.submitBatch(batchReq, (e) => (e ? rej(e) : res()))));
  out.batch = { rate: ((b.done * S.batchSize) / b.ms) * 1000 };
  log(`  ${round(((b.done * S.batchSize) / b.ms) * 1000, 0)} runs/s`);
  await purge(jsm);
  return out;
}

async function memoryPhase(nats: Nats, jsm: JetStreamManager): Promise<Record<string, number>> {
  log(`memory: fresh broker, ${S.memN} runs queued, no worker`);
  await purge(jsm);
  const b = await startBroker(nats.url, "broker-memory");
  try {
    await sleep(1_000);
    const idle = rssMiB(b.child.proc.pid!);
    const batchReq = SubmitBatchRequest.fromPartial({ runs: Array.from({ length: S.batchSize }, () => submitReq) });
    const batches = Math.ceil(S.memN / S.batchSize);
    const t0 = performance.now();
    await closedLoop(S.batchConc, batches, 300_000, () => new Promise<void>((res, rej) => b.client.raw.submitBatch(batchReq, (e) => (e ? rej(e) : res()))));
    const ms = performance.now() - t0;
    await sleep(2_000);
    const loaded = rssMiB(b.child.proc.pid!);
    const si = await jsm.streams.info(RUNS_STREAM);
    log(`  idle ${round(idle.rss, 1)} MiB, with ${si.state.messages} queued ${round(loaded.rss, 1)} MiB (peak ${round(loaded.hwm, 1)} MiB), loaded at ${round((batches * S.batchSize * 1000) / ms, 0)} runs/s`);
    return { idleMiB: idle.rss, queuedMiB: loaded.rss, peakMiB: loaded.hwm, queued: si.state.messages };
  } finally {
    b.client.close();
    await b.child.stop();
    await purge(jsm);
  }
}

interface JszStream {
  name: string;
  state: { messages: number; last_seq: number };
  consumer_detail?: Array<{ name: string; delivered: { consumer_seq: number }; ack_floor: { consumer_seq: number }; num_ack_pending: number; num_pending: number }>;
}

async function counters(nats: Nats): Promise<Record<string, number>> {
  const jsz = await nats.monitor<{ api: { total: number }; account_details?: Array<{ stream_detail?: JszStream[] }> }>("/jsz?accounts=true&streams=true&consumers=true");
  const varz = await nats.monitor<{ in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number }>("/varz");
  const streams = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
  const runs = streams.find((s) => s.name === RUNS_STREAM);
  const kv = streams.find((s) => s.name === RUNS_BUCKET_STREAM);
  const cons = runs?.consumer_detail?.find((c) => c.name === taskConsumerName("default", TASK));
  return {
    apiTotal: jsz.api.total,
    inMsgs: varz.in_msgs,
    outMsgs: varz.out_msgs,
    inBytes: varz.in_bytes,
    outBytes: varz.out_bytes,
    runPublishes: runs?.state.last_seq ?? 0,
    kvWrites: kv?.state.last_seq ?? 0,
    delivered: cons?.delivered.consumer_seq ?? 0,
    acked: cons?.ack_floor.consumer_seq ?? 0,
  };
}

async function costPhase(nats: Nats, client: Client, jsm: JetStreamManager): Promise<Record<string, number>> {
  log(`cost: JetStream operations of ${S.costN} runs (nats-server monitoring deltas)`);
  await sleep(300);
  const before = await counters(nats);
  await closedLoop(CONC, S.costN, 120_000, async () => void (await client.submitRaw(submitReq)));
  // Wait through the monitoring port only, so the wait adds no NATS traffic.
  await waitFor(async () => {
    const c = await counters(nats);
    return c.acked - before.acked >= S.costN;
  }, "cost runs acked", 120_000, 50);
  await sleep(300);
  const after = await counters(nats);
  const per: Record<string, number> = {};
  for (const k of Object.keys(after)) per[k] = (after[k]! - before[k]!) / S.costN;
  log(`  per run: ${JSON.stringify(Object.fromEntries(Object.entries(per).map(([k, v]) => [k, round(v, 2)])))}`);
  await purge(jsm);
  return per;
}

/**
 * The e2e phases: a burst of N runs submitted by `client` at c64 (the
 * default SDK, which coalesces a turn's Submits into one SubmitBatch call),
 * the same burst with `unary` (one Submit call per run), and the paced run
 * with `unary`.
 */
async function taskwireE2E(client: Client, unary: Client, js: JetStreamClient, jsm: JetStreamManager, pids: Record<string, number>): Promise<Record<string, unknown>> {
  const burstUnary = await e2eBurst(unary, "unary Submit calls", js, jsm, pids);
  const burst = await e2eBurst(client, "default client (coalesced Submits)", js, jsm, pids);
  const paced = await e2ePaced(unary, js, jsm);
  return { ...burst, unary: burstUnary, paced };
}

async function e2eBurst(client: Client, how: string, js: JetStreamClient, jsm: JetStreamManager, pids: Record<string, number>): Promise<Record<string, unknown>> {
  log(`e2e: ${S.e2eN} no-op runs, Submit concurrency ${CONC} (${how}), worker concurrency ${CONC}`);
  await purge(jsm);
  const sent = new Map<string, Sent>();
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
  const t0 = performance.now();
  const s = await closedLoop(CONC, S.e2eN, 300_000, async () => {
    const start = wallNow();
    const { run } = await client.submitRaw(submitReq);
    sent.set(run.id, { start, accepted: wallNow() });
  });
  const submitRate = (s.done / s.ms) * 1000;
  await waitDrained(jsm, 600_000);
  const wallMs = performance.now() - t0;
  const cpu = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ((cpuSeconds(p) - cpu0[k]!) * 1000) / s.done]));
  const records = await readRecords(js, jsm);
  const l = runLatencies(records, sent);
  const completedRate = (l.completed / (l.lastFinish - l.firstStart)) * 1000;
  log(`  submitted ${round(submitRate, 0)}/s, completed ${l.completed}/${s.done} at ${round(completedRate, 0)}/s (drain seen after ${round(wallMs, 0)} ms); dispatch p50 ${round(l.dispatch.p50)} p99 ${round(l.dispatch.p99)}; e2e p50 ${round(l.e2e.p50)} p99 ${round(l.e2e.p99)} ms; CPU ms/run ${JSON.stringify(Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(v, 3)])))}`);
  await purge(jsm);
  return {
    submitRate,
    completed: l.completed,
    submitted: s.done,
    completedRate,
    dispatch: l.dispatch,
    e2e: l.e2e,
    negativeDispatch: l.negativeDispatch,
    cpuMsPerRun: cpu,
    dispatchFromAnswer: l.dispatchFromAnswer,
  };
}

async function e2ePaced(client: Client, js: JetStreamClient, jsm: JetStreamManager): Promise<Record<string, unknown>> {

  log(`e2e: paced at ${S.pacedRate}/s for ${S.pacedMs} ms (latency at a steady rate)`);
  const sentP = new Map<string, Sent>();
  const ol = await openLoop(S.pacedRate, S.pacedMs, async () => {
    const start = wallNow();
    const { run } = await client.submitRaw(submitReq);
    sentP.set(run.id, { start, accepted: wallNow() });
  });
  await waitDrained(jsm, 120_000);
  const lp = runLatencies(await readRecords(js, jsm), sentP);
  log(`  completed ${lp.completed}/${ol.sent}; dispatch p50 ${round(lp.dispatch.p50)} p99 ${round(lp.dispatch.p99)}; e2e p50 ${round(lp.e2e.p50)} p99 ${round(lp.e2e.p99)} ms (${lp.negativeDispatch} runs started before the client saw Submit's answer)`);
  await purge(jsm);
  return { completed: lp.completed, sent: ol.sent, dispatch: lp.dispatch, dispatchFromAnswer: lp.dispatchFromAnswer, dispatchFromReceipt: lp.dispatchFromReceipt, e2e: lp.e2e, negativeDispatch: lp.negativeDispatch };
}

/** Worker-side throughput alone: N runs preloaded with no worker, then one worker (c64) drains them. */
async function taskwireDrain(nats: Nats, client: Client, js: JetStreamClient, jsm: JetStreamManager): Promise<{ rate: number; completed: number }> {
  log(`drain: ${S.e2eN} runs preloaded (SubmitBatch), then a worker with concurrency ${CONC} starts`);
  await purge(jsm);
  const batchReq = SubmitBatchRequest.fromPartial({ runs: Array.from({ length: S.batchSize }, () => submitReq) });
  await closedLoop(S.batchConc, Math.ceil(S.e2eN / S.batchSize), 300_000, () => new Promise<void>((res, rej) => client.raw.submitBatch(batchReq, (e) => (e ? rej(e) : res()))));
  const w = await startWorker(nats, jsm, "worker-drain");
  try {
    await waitDrained(jsm, 600_000);
  } finally {
    await w.stop();
  }
  let first = Infinity;
  let last = 0;
  let n = 0;
  for (const r of await readRecords(js, jsm)) {
    if (r.state !== RunState.RUN_STATE_COMPLETED) continue;
    n++;
    first = Math.min(first, decodeJson(r.result) as number);
    last = Math.max(last, r.finishedAt?.getTime() ?? 0);
  }
  const rate = (n / (last - first)) * 1000;
  log(`  drained ${n} at ${round(rate, 0)}/s (first task start → last finish)`);
  await purge(jsm);
  return { rate, completed: n };
}

async function bullmqPhase(redis: Redis): Promise<Record<string, unknown>> {
  const connection = { host: "127.0.0.1", port: redis.port, maxRetriesPerRequest: null };
  const qname = "bench";
  const queue = new Queue(qname, { connection });
  const wq = startTsChild("bullmq-worker", join(BENCH, "src/bullmq-worker.ts"), [String(redis.port), qname, String(CONC)]);
  try {
    await queue.waitUntilReady();
    await waitFor(() => wq.output().includes("ready") || (wq.proc.exitCode !== null && Promise.reject(new Error(wq.output()))), "bullmq worker", 60_000, 50);
    const opts = { removeOnComplete: false, removeOnFail: false };
    await closedLoop(CONC, 2_000, 10_000, async () => void (await queue.add("noop", PAYLOAD, opts))); // warm-up
    await waitFor(async () => (await queue.getJobCounts("completed")).completed >= 2_000, "bullmq warm-up", 60_000, 50);
    await queue.clean(0, 1_000_000, "completed");

    log(`bullmq: ${S.e2eN} no-op jobs, add concurrency ${CONC}, worker concurrency ${CONC}`);
    const pids = { worker: wq.proc.pid!, redis: redis.child.proc.pid! };
    const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
    const sent = new Map<string, Sent>();
    const s = await closedLoop(CONC, S.e2eN, 300_000, async () => {
      const start = wallNow();
      const job = await queue.add("noop", PAYLOAD, opts);
      sent.set(job.id!, { start, accepted: wallNow() });
    });
    const addRate = (s.done / s.ms) * 1000;
    await waitFor(async () => (await queue.getJobCounts("completed")).completed >= s.done, "bullmq jobs completed", 600_000, 20);
    const cpu = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ((cpuSeconds(p) - cpu0[k]!) * 1000) / s.done]));
    const lat = await bullLatencies(queue, sent);
    const completedRate = (lat.completed / (lat.lastFinish - lat.firstStart)) * 1000;
    log(`  added ${round(addRate, 0)}/s, completed ${lat.completed} at ${round(completedRate, 0)}/s; dispatch p50 ${round(lat.dispatch.p50)} p99 ${round(lat.dispatch.p99)}; e2e p50 ${round(lat.e2e.p50)} p99 ${round(lat.e2e.p99)} ms; CPU ms/job ${JSON.stringify(Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(v, 3)])))}`);
    await queue.clean(0, 10_000_000, "completed");

    log(`bullmq: paced at ${S.pacedRate}/s for ${S.pacedMs} ms`);
    const sentP = new Map<string, Sent>();
    const ol = await openLoop(S.pacedRate, S.pacedMs, async () => {
      const start = wallNow();
      const job = await queue.add("noop", PAYLOAD, opts);
      sentP.set(job.id!, { start, accepted: wallNow() });
    });
    await waitFor(async () => (await queue.getJobCounts("completed")).completed >= sentP.size, "bullmq paced completed", 120_000, 20);
    const lp = await bullLatencies(queue, sentP);
    log(`  completed ${lp.completed}/${ol.sent}; dispatch p50 ${round(lp.dispatch.p50)} p99 ${round(lp.dispatch.p99)}; e2e p50 ${round(lp.e2e.p50)} p99 ${round(lp.e2e.p99)} ms`);
    await queue.clean(0, 10_000_000, "completed");

    log(`bullmq: addBulk of ${S.batchSize}, ${S.batchConc} concurrent, ${S.batchMs} ms (worker stopped)`);
    await wq.stop();
    await queue.obliterate({ force: true });
    const bulk = Array.from({ length: S.batchSize }, () => ({ name: "noop", data: PAYLOAD, opts }));
    const b = await closedLoop(S.batchConc, 10_000_000, S.batchMs, async () => void (await queue.addBulk(bulk)));
    const bulkRate = ((b.done * S.batchSize) / b.ms) * 1000;
    log(`  ${round(bulkRate, 0)} jobs/s`);
    await queue.obliterate({ force: true });

    log(`bullmq drain: ${S.e2eN} jobs preloaded (addBulk), then a worker with concurrency ${CONC} starts`);
    await closedLoop(S.batchConc, Math.ceil(S.e2eN / S.batchSize), 300_000, async () => void (await queue.addBulk(bulk)));
    const wd = startTsChild("bullmq-worker-drain", join(BENCH, "src/bullmq-worker.ts"), [String(redis.port), qname, String(CONC)]);
    let drainRate = NaN;
    try {
      await waitFor(async () => (await queue.getJobCounts("completed")).completed >= S.e2eN, "bullmq drain", 600_000, 20);
      let first = Infinity;
      let last = 0;
      let n = 0;
      for (let i = 0; i < 10_000; i++) {
        const jobs = await queue.getJobs(["completed"], i * 1_000, (i + 1) * 1_000 - 1, true);
        if (jobs.length === 0) break;
        for (const j of jobs) {
          n++;
          first = Math.min(first, j.returnvalue as number);
          last = Math.max(last, j.finishedOn ?? 0);
        }
      }
      drainRate = (n / (last - first)) * 1000;
      log(`  drained ${n} at ${round(drainRate, 0)}/s (first job start → last finish)`);
    } finally {
      await wd.stop();
    }
    await queue.obliterate({ force: true });
    return { addRate, completedRate, completed: lat.completed, dispatch: lat.dispatch, e2e: lat.e2e, cpuMsPerJob: cpu, paced: { completed: lp.completed, sent: ol.sent, dispatch: lp.dispatch, e2e: lp.e2e }, bulkRate, drainRate };
  } finally {
    await wq.stop();
    await queue.close();
  }
}

async function bullLatencies(queue: Queue, sent: Map<string, Sent>): Promise<{ dispatch: Pcts; e2e: Pcts; completed: number; firstStart: number; lastFinish: number }> {
  const dispatch: number[] = [];
  const e2e: number[] = [];
  let firstStart = Infinity;
  let lastFinish = 0;
  for (const s of sent.values()) firstStart = Math.min(firstStart, s.start);
  const page = 1_000;
  for (let i = 0; i < 10_000; i++) {
    const jobs = await queue.getJobs(["completed"], i * page, (i + 1) * page - 1, true);
    if (jobs.length === 0) break;
    for (const j of jobs) {
      const s = sent.get(j.id!);
      if (!s) continue;
      dispatch.push((j.returnvalue as number) - s.start);
      e2e.push((j.finishedOn ?? NaN) - s.start);
      lastFinish = Math.max(lastFinish, j.finishedOn ?? 0);
    }
  }
  return { dispatch: pcts(dispatch), e2e: pcts(e2e), completed: dispatch.length, firstStart, lastFinish };
}

// ---------------------------------------------------------------- report

function fmt(v: number | undefined, unit = ""): string {
  if (v === undefined || Number.isNaN(v)) return "-";
  const s = Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : String(round(v));
  return unit ? `${s} ${unit}` : s;
}

function printTable(): string {
  const header = ["section", "metric", "taskwire", "compared with", "value", "ratio", "target", "met"];
  const lines = rows.map((r) => [
    r.section,
    r.metric,
    fmt(r.taskwire, r.unit),
    r.peer ?? "",
    fmt(r.peerValue, r.peer ? r.unit : ""),
    r.ratio !== undefined ? `${round(r.ratio, 2)}×` : "",
    r.target ?? "",
    r.met === undefined ? "" : r.met ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmtLine = (l: string[]): string => `| ${l.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [fmtLine(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(fmtLine)].join("\n");
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = Date.now();
  mkdirSync(join(BENCH, "results"), { recursive: true });
  if (PROFILE) mkdirSync(PROF_DIR, { recursive: true });
  log(`mode ${QUICK ? "quick" : "full"}; settings ${JSON.stringify(S)}`);
  const nats = await startNats();
  let redis: Redis | undefined;
  let nc: NatsConnection | undefined;
  let broker: Awaited<ReturnType<typeof startBroker>> | undefined;
  let worker: Child | undefined;
  try {
    redis = SKIP_BULLMQ ? undefined : await startRedis();
    const machine = machineInfo(nats.bin, redis?.bin ?? "redis-server");
    log(`machine ${JSON.stringify(machine)}`);
    nc = await connect({ servers: nats.url, name: "bench" });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);

    const ceil = await ceilings(nats);
    row({ section: "ceiling", metric: "raw JetStream publish (async, acked, 64 in flight)", unit: "msg/s", taskwire: ceil.pub });
    row({ section: "ceiling", metric: "raw JetStream consume+ack (64 in flight)", unit: "msg/s", taskwire: ceil.consume });
    row({ section: "ceiling", metric: "raw KV create + publish in sequence (Submit's NATS work, 64 in flight)", unit: "op/s", taskwire: ceil.kvPub });
    row({ section: "ceiling", metric: "  same, nats.js noAsyncTraces: true", unit: "op/s", taskwire: ceil.kvPubNoTraces, peer: "default (async traces)", peerValue: ceil.kvPub });
    row({ section: "ceiling", metric: "raw grpc-js unary echo, concurrency 1", unit: "call/s", taskwire: ceil.echo1.rate });
    row({ section: "ceiling", metric: "raw grpc-js unary echo, concurrency 64", unit: "call/s", taskwire: ceil.echo64.rate });
    latRows("ceiling", "raw grpc-js echo c64 latency", ceil.echo64.lat);
    latRows("ceiling", `raw grpc-js echo open loop ${S.openRate}/s latency`, ceil.echoOpen, undefined, {}, true);

    broker = await startBroker(nats.url);
    const sub = (await submitPhases(broker.client, jsm, broker.child.proc.pid!, nats.child.proc.pid!)) as {
      c1: { rate: number; lat: Pcts; brokerCpuMsPerSubmit: number };
      c64: { rate: number; lat: Pcts; brokerCpuMsPerSubmit: number; coresBusy: Record<string, number> };
      c64stub: { rate: number; lat: Pcts; brokerCpuMsPerSubmit: number; coresBusy: Record<string, number> };
      open: { lat: Pcts; errors: number; sent: number };
      batch: { rate: number };
    };
    row({ section: "submit", metric: "Submit throughput, concurrency 1", unit: "call/s", taskwire: sub.c1.rate, peer: "grpc echo c1", peerValue: ceil.echo1.rate });
    latRows("submit", "Submit c1 latency", sub.c1.lat, { name: "grpc echo c1", p: ceil.echo1.lat });
    row({ section: "submit", metric: "Submit throughput, concurrency 64 (TS SDK client)", unit: "call/s", taskwire: sub.c64.rate, peer: "grpc echo c64", peerValue: ceil.echo64.rate });
    row({ section: "submit", metric: "Submit throughput, concurrency 64 (generated stub, as the echo client)", unit: "call/s", taskwire: sub.c64stub.rate, peer: "grpc echo c64", peerValue: ceil.echo64.rate, target: "≥ 0.8× echo", met: sub.c64stub.rate >= 0.8 * ceil.echo64.rate });
    row({ section: "submit", metric: "Submit throughput c64 vs its NATS work alone", unit: "call/s", taskwire: sub.c64.rate, peer: "raw KV create+publish", peerValue: ceil.kvPub });
    latRows("submit", "Submit c64 latency", sub.c64.lat, { name: "grpc echo c64", p: ceil.echo64.lat });
    latRows("submit", `Submit open loop ${S.openRate}/s latency`, sub.open.lat, { name: `grpc echo open loop ${S.openRate}/s`, p: ceil.echoOpen }, { p99: 2 }, true);
    row({ section: "submit", metric: "broker CPU per Submit (c64)", unit: "ms", taskwire: sub.c64.brokerCpuMsPerSubmit, peer: "echo server CPU per call", peerValue: ceil.echo64.serverCpuMsPerCall });
    for (const [k, v] of Object.entries(sub.c64.coresBusy)) row({ section: "submit", metric: `cores busy during Submit c64 (SDK): ${k}`, unit: "", taskwire: v });
    for (const [k, v] of Object.entries(sub.c64stub.coresBusy)) row({ section: "submit", metric: `cores busy during Submit c64 (stub): ${k}`, unit: "", taskwire: v });
    extra.submit = sub;
    broker.client.close();
    await broker.child.stop();
    broker = undefined;

    const mem = await memoryPhase(nats, jsm);
    extra.memory = mem;

    broker = await startBroker(nats.url);
    await purge(jsm);
    worker = await startWorker(nats, jsm);
    const cost = await costPhase(nats, broker.client, jsm);
    extra.costPerRun = cost;
    const coalescing = new Client({ address: broker.client.address });
    type Burst = { submitRate: number; completedRate: number; completed: number; submitted: number; dispatch: Pcts; e2e: Pcts; cpuMsPerRun: Record<string, number> };
    const e2e = (await taskwireE2E(coalescing, broker.client, js, jsm, { broker: broker.child.proc.pid!, worker: worker.proc.pid!, natsServer: nats.child.proc.pid! })) as Burst & {
      unary: Burst;
      paced: { dispatch: Pcts; e2e: Pcts; completed: number; sent: number };
    };
    coalescing.close();
    extra.e2e = e2e;
    await worker.stop();
    worker = undefined;
    const drain = await taskwireDrain(nats, broker.client, js, jsm);
    extra.drain = drain;
    broker.client.close();
    await broker.child.stop();
    broker = undefined;

    const bull = redis ? ((await bullmqPhase(redis)) as { addRate: number; completedRate: number; dispatch: Pcts; e2e: Pcts; cpuMsPerJob: Record<string, number>; paced: { dispatch: Pcts; e2e: Pcts }; bulkRate: number; drainRate: number }) : undefined;
    extra.bullmq = bull;

    row({ section: "submit", metric: `SubmitBatch (${S.batchSize}/call, ${S.batchConc} in flight)`, unit: "run/s", taskwire: sub.batch.rate, peer: "BullMQ addBulk", peerValue: bull?.bulkRate });
    row({ section: "submit", metric: "SubmitBatch vs JetStream publish", unit: "run/s", taskwire: sub.batch.rate, peer: "raw JS publish", peerValue: ceil.pub });
    const n = S.e2eN.toLocaleString("en-US");
    row({ section: "e2e", metric: `submit rate while ${n} runs execute (c64)`, unit: "/s", taskwire: e2e.submitRate, peer: "BullMQ add", peerValue: bull?.addRate });
    row({ section: "e2e", metric: `completed per second (${n} no-op, worker c64)`, unit: "/s", taskwire: e2e.completedRate, peer: "BullMQ", peerValue: bull?.completedRate, target: "≥ 1.0× BullMQ", met: bull ? e2e.completedRate >= bull.completedRate : undefined });
    row({ section: "e2e", metric: `  same, one Submit call per run (coalesceSubmits: false)`, unit: "/s", taskwire: e2e.unary.completedRate, peer: "BullMQ", peerValue: bull?.completedRate });
    row({ section: "e2e", metric: `  submit rate, one Submit call per run`, unit: "/s", taskwire: e2e.unary.submitRate, peer: "BullMQ add", peerValue: bull?.addRate });
    row({ section: "e2e", metric: `worker drain rate (${n} preloaded, c64)`, unit: "/s", taskwire: drain.rate, peer: "BullMQ", peerValue: bull?.drainRate });
    row({ section: "e2e", metric: "completed per second vs consume+ack ceiling", unit: "/s", taskwire: e2e.completedRate, peer: "raw JS consume+ack", peerValue: ceil.consume });
    latRows("e2e", `dispatch latency (from Submit call), ${n} burst`, e2e.dispatch, bull ? { name: "BullMQ", p: bull.dispatch } : undefined);
    latRows("e2e", `end-to-end latency, ${n} burst`, e2e.e2e, bull ? { name: "BullMQ", p: bull.e2e } : undefined);
    latRows("e2e", `dispatch latency (from Submit call), paced ${S.pacedRate}/s`, e2e.paced.dispatch, bull ? { name: "BullMQ", p: bull.paced.dispatch } : undefined);
    latRows("e2e", `dispatch latency (broker receipt → start, ≥ accepted → start), paced ${S.pacedRate}/s`, (e2e.paced as unknown as { dispatchFromReceipt: Pcts }).dispatchFromReceipt, undefined, { p50: 2, p99: 10 });
    latRows("e2e", `dispatch latency (from Submit answer, lower bound), paced ${S.pacedRate}/s`, (e2e.paced as unknown as { dispatchFromAnswer: Pcts }).dispatchFromAnswer);
    latRows("e2e", `end-to-end latency, paced ${S.pacedRate}/s`, e2e.paced.e2e, bull ? { name: "BullMQ", p: bull.paced.e2e } : undefined);
    for (const [k, v] of Object.entries(e2e.unary.cpuMsPerRun)) row({ section: "e2e", metric: `CPU per run, one Submit call per run: ${k}`, unit: "ms", taskwire: v });
    for (const [k, v] of Object.entries(e2e.cpuMsPerRun)) row({ section: "e2e", metric: `CPU per run: ${k}`, unit: "ms", taskwire: v, peer: k === "worker" ? "BullMQ worker" : k === "natsServer" ? "redis-server" : undefined, peerValue: k === "worker" ? bull?.cpuMsPerJob.worker : k === "natsServer" ? bull?.cpuMsPerJob.redis : undefined });

    row({ section: "memory", metric: "broker RSS, idle", unit: "MiB", taskwire: mem.idleMiB });
    row({ section: "memory", metric: `broker RSS, ${mem.queued.toLocaleString("en-US")} runs queued`, unit: "MiB", taskwire: mem.queuedMiB, target: "≤ 200 MB", met: mem.queuedMiB * 1.048576 <= 200 });
    row({ section: "memory", metric: "broker peak RSS (VmHWM) while queueing", unit: "MiB", taskwire: mem.peakMiB });

    const costLabels: Record<string, string> = {
      runPublishes: "TASKWIRE_RUNS publishes",
      kvWrites: "KV taskwire_runs writes",
      delivered: "consumer deliveries",
      acked: "acks (ack floor)",
      apiTotal: "JetStream API requests",
      inMsgs: "NATS messages in (server)",
      outMsgs: "NATS messages out (server)",
      inBytes: "bytes in (server)",
      outBytes: "bytes out (server)",
    };
    for (const [k, label] of Object.entries(costLabels)) row({ section: "cost/run", metric: label, unit: "", taskwire: cost[k] });

    const table = printTable();
    process.stdout.write(`\ntaskwire bench (${QUICK ? "quick" : "full"}), ${machine.nproc} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.natsServer}, ${machine.redis}\n\n${table}\n\n`);
    const met = rows.filter((r) => r.met !== undefined);
    process.stdout.write(`targets: ${met.filter((r) => r.met).length} of ${met.length} met${met.some((r) => !r.met) ? ` — missed: ${met.filter((r) => !r.met).map((r) => r.metric).join("; ")}` : ""}\n`);

    const result = { date: new Date().toISOString(), mode: QUICK ? "quick" : "full", durationS: round((Date.now() - started) / 1000, 1), machine, settings: { ...S, concurrency: CONC, payload: PAYLOAD, submitRequestBytes: SUBMIT_BYTES }, rows, details: extra, table };
    const json = JSON.stringify(result, null, 2);
    const dir = join(BENCH, "results");
    writeFileSync(join(dir, QUICK ? "latest-quick.json" : "latest.json"), json);
    writeFileSync(join(dir, `${result.date.replace(/[:.]/g, "-")}-${result.mode}.json`), json);
    log(`wrote bench/results/${QUICK ? "latest-quick.json" : "latest.json"} (${result.durationS} s)`);
  } finally {
    await worker?.stop().catch(() => {});
    broker?.client.close();
    await broker?.child.stop().catch(() => {});
    await nc?.close().catch(() => {});
    await stopAllChildren();
    await redis?.stop().catch(() => {});
    await nats.stop().catch(() => {});
  }
}

process.on("exit", killAllChildrenSync);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    killAllChildrenSync();
    process.exit(130);
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
    void stopAllChildren().finally(() => process.exit(1));
  },
);
