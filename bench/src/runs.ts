// Taskwire runs as the phases submit and read them: the one Submit request,
// emptying the streams between phases, waiting for a drain, reading the run
// records back, and the latencies they carry.
import { appendFileSync } from "node:fs";
import { DeliverPolicy, type JetStreamClient, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import { type Client, decodeJson, encodeArgs, RunState, type TaskRun } from "@taskwire/client";
import { INDEX_STREAM, RUNS_BUCKET_STREAM, RUNS_STREAM, taskConsumerName } from "@taskwire/core";
import { decodeRun, SubmitBatchRequest, SubmitRequest } from "@taskwire/protocol";
import { TASK } from "./settings.js";
import { MS_TRUNCATION, PAYLOAD, type Pcts, pcts, waitFor } from "./util.js";

/** The Submit of every phase: the bench task with the bench payload. */
export const submitReq = SubmitRequest.fromPartial({ task: TASK, args: encodeArgs([PAYLOAD]) });
export const SUBMIT_BYTES = SubmitRequest.encode(submitReq).finish().length;

export function batchRequest(size: number): SubmitBatchRequest {
  return SubmitBatchRequest.fromPartial({ runs: Array.from({ length: size }, () => submitReq) });
}

/** One SubmitBatch call through the generated stub. */
export function submitBatch(client: Client, req: SubmitBatchRequest): Promise<void> {
  return new Promise<void>((res, rej) => client.raw.submitBatch(req, (e) => (e ? rej(e) : res())));
}

/** Empties the runs' streams; one no broker has created yet (a phase run first, with --only) has nothing to empty. */
export async function purge(jsm: JetStreamManager): Promise<void> {
  const empty = (stream: string): Promise<unknown> =>
    jsm.streams.purge(stream).catch((err: unknown) => {
      if (!(err instanceof JetStreamApiError && err.code === 10059)) throw err; // 10059: stream not found
    });
  await empty(RUNS_STREAM);
  await empty(RUNS_BUCKET_STREAM);
  await empty(INDEX_STREAM);
}

/** Waits until every queued run is acked (stream empty, nothing pending), bounded; the bench task's queue unless told another work queue and consumer. */
export async function waitDrained(jsm: JetStreamManager, timeoutMs: number, stream = RUNS_STREAM, consumer = taskConsumerName("default", TASK)): Promise<void> {
  await waitFor(async () => {
    const si = await jsm.streams.info(stream);
    if (si.state.messages > 0) return false;
    const ci = await jsm.consumers.info(stream, consumer);
    return ci.num_ack_pending === 0;
  }, `${stream} drained`, timeoutMs, 20);
}

/** Latest record of every run (last revision per key), read with an ordered consumer. */
export async function readRecords(js: JetStreamClient, jsm: JetStreamManager): Promise<TaskRun[]> {
  const out: TaskRun[] = [];
  await eachRecord(js, jsm, (r) => out.push(r), 120_000);
  return out;
}

/**
 * The same read, one record at a time, for more runs than are worth holding
 * decoded at once (the scale phase's 500,000); every record is read, and
 * one that cannot be read in `timeoutMs` is an error, not a shorter count.
 */
export async function forEachRecord(js: JetStreamClient, jsm: JetStreamManager, fn: (r: TaskRun) => void, timeoutMs: number): Promise<number> {
  const { read, complete } = await eachRecord(js, jsm, fn, timeoutMs);
  if (!complete) throw new Error(`read only ${read} run records in ${timeoutMs} ms`);
  return read;
}

async function eachRecord(js: JetStreamClient, jsm: JetStreamManager, fn: (r: TaskRun) => void, timeoutMs: number): Promise<{ read: number; complete: boolean }> {
  const si = await jsm.streams.info(RUNS_BUCKET_STREAM);
  if (si.state.messages === 0) return { read: 0, complete: true };
  const oc = await js.consumers.get(RUNS_BUCKET_STREAM, { deliver_policy: DeliverPolicy.LastPerSubject });
  const iter = await oc.consume({ max_messages: 1_000 });
  const deadline = Date.now() + timeoutMs;
  const timer = setTimeout(() => iter.stop(), timeoutMs);
  let read = 0;
  let complete = false;
  for await (const m of iter) {
    if (m.data.length > 0) {
      fn(decodeRun(m.data));
      read++;
    }
    if (m.info.pending === 0) complete = true;
    if (complete || Date.now() > deadline) break;
  }
  clearTimeout(timer);
  iter.stop();
  return { read, complete };
}

/** When a run (or BullMQ job) was submitted, and when its Submit answered; wall clock ms. */
export interface Sent {
  start: number;
  accepted: number;
}

export interface RunLatencies {
  /** Submit call → task started. */
  dispatch: Pcts;
  /** Submit answer → task started (a lower bound of accepted → started). */
  dispatchFromAnswer: Pcts;
  /** Submit call → its answer, of the runs that completed. */
  submitRoundTrip: Pcts;
  /** Broker receipt → task started (an upper bound of accepted → started). */
  dispatchFromReceipt: Pcts;
  /** Submit call → run finished. */
  e2e: Pcts;
  completed: number;
  firstStart: number;
  lastFinish: number;
  /** Runs started before the client saw Submit's answer. */
  negativeDispatch: number;
  /** Where the slowest 1 % (end to end) spent their time, next to all runs. */
  slowest: SlowRuns;
}

/**
 * The slowest 1 % of runs end to end, each split into its hops (medians, in
 * ms): client → broker (Submit call → the broker's createdAt), broker →
 * task start (record, queue message, delivery, claim), start → finish (the
 * task, the outcome decided; finishedAt is the worker's clock at the
 * outcome). createdAt and finishedAt have ms resolution (each gets
 * MS_TRUNCATION). `windows` counts
 * the distinct 50 ms windows the slow runs were submitted in: a few windows
 * means stalls (a pause hit the runs in flight), many means a spread tail.
 */
export interface SlowRuns {
  n: number;
  threshold: number;
  hops: { toBroker: number; toStart: number; toFinish: number };
  allHops: { toBroker: number; toStart: number; toFinish: number };
  windows: number;
}

function median(v: number[]): number {
  return pcts(v).p50;
}

function slowestOf(runs: { start: number; created: number; started: number; finished: number }[]): SlowRuns {
  const e2e = runs.map((r) => r.finished - r.start);
  const threshold = pcts(e2e).p99;
  const slow = runs.filter((r) => r.finished - r.start >= threshold);
  // TASKWIRE_BENCH_SLOW_RUNS=<file>: the slow runs' own times (wall-clock ms), to line them up with the processes' logs.
  const dump = process.env.TASKWIRE_BENCH_SLOW_RUNS;
  if (dump) appendFileSync(dump, `${JSON.stringify(slow)}\n`);
  const hops = (rs: typeof runs) => ({ toBroker: median(rs.map((r) => r.created - r.start)), toStart: median(rs.map((r) => r.started - r.created)), toFinish: median(rs.map((r) => r.finished - r.started)) });
  return { n: slow.length, threshold, hops: hops(slow), allHops: hops(runs), windows: new Set(slow.map((r) => Math.floor(r.start / 50))).size };
}

/** The latencies of the completed runs among `records` that are in `sent` (the task's result is its start time). */
export function runLatencies(records: TaskRun[], sent: Map<string, Sent>): RunLatencies {
  const dispatch: number[] = [];
  const fromAnswer: number[] = [];
  const fromReceipt: number[] = [];
  const roundTrip: number[] = [];
  const e2e: number[] = [];
  let firstStart = Infinity;
  let lastFinish = 0;
  let negative = 0;
  const each: { start: number; created: number; started: number; finished: number }[] = [];
  for (const s of sent.values()) firstStart = Math.min(firstStart, s.start);
  for (const r of records) {
    const s = sent.get(r.id);
    if (!s || r.state !== RunState.RUN_STATE_COMPLETED) continue;
    const started = decodeJson(r.result) as number;
    const finished = (r.finishedAt?.getTime() ?? NaN) + MS_TRUNCATION;
    const created = (r.createdAt?.getTime() ?? NaN) + MS_TRUNCATION;
    const d = started - s.accepted;
    if (d < 0) negative++;
    fromAnswer.push(d);
    roundTrip.push(s.accepted - s.start);
    // createdAt is the broker's clock when it began handling the Submit
    // (stored truncated to the millisecond; MS_TRUNCATION): before the run
    // was accepted, so this is an upper bound of "accepted → started"
    // without the client's half of the Submit round trip.
    fromReceipt.push(started - created);
    dispatch.push(started - s.start);
    e2e.push(finished - s.start);
    each.push({ start: s.start, created, started, finished });
    lastFinish = Math.max(lastFinish, finished);
  }
  return { dispatch: pcts(dispatch), dispatchFromAnswer: pcts(fromAnswer), dispatchFromReceipt: pcts(fromReceipt), submitRoundTrip: pcts(roundTrip), e2e: pcts(e2e), completed: dispatch.length, firstStart, lastFinish, negativeDispatch: negative, slowest: slowestOf(each) };
}
