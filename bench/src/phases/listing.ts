// Listing at scale (issue 13): ListRuns with s.listN runs retained. The
// runs are seeded straight into NATS with the broker's own codec and
// layout — the record (encodeRun, in the runs bucket) and its index message
// (subject indexSubject(), id as data and message id, as the broker's
// IndexWriter writes it) — finished runs as a week of traffic leaves them
// (COMPLETED, some FAILED and CANCELLED), over 1 common task, 10 tasks with
// 1 % of the runs each and 1 with 0.01 %. Then a fresh broker is timed
// answering ListRuns through the TS client: the first page, the pages after
// it, filters that match nothing, selective filters, a state filter; its
// RSS before and after, and the disk the index takes per 100,000 runs.
import { connect } from "@nats-io/transport-node";
import { Client, RunState } from "@taskwire/client";
import { INDEX_STREAM, indexSubject, JsWire, newRunId, recordSubject, RUNS_BUCKET_STREAM } from "@taskwire/core";
import { encodeRun, TaskRun } from "@taskwire/protocol";
import { purge } from "../runs.js";
import type { Settings } from "../settings.js";
import { type Stack, startBroker, stopBroker } from "../stack.js";
import { cpuSeconds, log, type Pcts, pcts, PAYLOAD_BYTES, round, rssMiB, sleep } from "../util.js";

export interface ListingFigures {
  /** Runs retained (seeded). */
  runs: number;
  seedRunsPerS: number;
  /** Page of 50, no filter, the newest. */
  firstPage: Pcts;
  /** The pages after it, each from the previous one's token. */
  nextPages: Pcts;
  /** A task no run has. */
  emptyTask: Pcts;
  /** States RUNNING and PENDING while nothing is queued. */
  emptyRunning: Pcts;
  /** A task with 1 % of the runs: first page. */
  selective: Pcts;
  /** A task with 0.01 % of the runs: first page (all of them when fewer than 50). */
  rare: Pcts;
  /** States FAILED (0.5 % of the runs): one call, with the scan budget. */
  failed: Pcts;
  failedFound: number;
  /** States FAILED: calls (and ms in all) until 50 were found, going on with each call's token. */
  failedPage: { ms: number; calls: number; found: number };
  /** Broker RSS once started, and after every listing; its peak. */
  rssIdleMiB: number;
  rssAfterMiB: number;
  hwmMiB: number;
  /** Bytes of the index stream and of the run records per 100,000 runs. */
  indexBytesPer100k: number;
  recordBytesPer100k: number;
}

const COMMON = "bench_list_common";
const SPREAD = Array.from({ length: 10 }, (_, i) => `bench_list_t${i}`);
const RARE = "bench_list_rare";
/** Messages in flight while seeding. */
const WINDOW = 2_048;

function taskOf(i: number): string {
  if (i % 10_000 === 5_000) return RARE;
  if (i % 100 < 10) return SPREAD[i % 10] as string;
  return COMMON;
}

function stateOf(i: number): RunState {
  if (i % 200 === 7) return RunState.RUN_STATE_FAILED;
  if (i % 1_000 === 13) return RunState.RUN_STATE_CANCELLED;
  return RunState.RUN_STATE_COMPLETED;
}

/** A finished run's record, as a worker leaves it (one attempt, a small result). */
function recordOf(id: string, i: number, now: Date): Uint8Array {
  const state = stateOf(i);
  return encodeRun(
    TaskRun.fromPartial({
      id,
      task: taskOf(i),
      queue: "default",
      namespace: "default",
      state,
      args: { contentType: "application/json", data: PAYLOAD_BYTES },
      createdAt: now,
      startedAt: now,
      finishedAt: now,
      attempt: 1,
      attempts: [{ number: 1, workerId: "bench-seed", startedAt: now, finishedAt: now }],
      result: state === RunState.RUN_STATE_COMPLETED ? { contentType: "application/json", data: Buffer.from("42") } : undefined,
      error: state === RunState.RUN_STATE_FAILED ? { type: "Error", message: "failed on purpose", stack: "Error: failed on purpose\n    at bench" } : undefined,
    }),
  );
}

/** Writes n finished runs (record + index message each), WINDOW publishes in flight, acked. */
async function seed(url: string, n: number): Promise<number> {
  const nc = await connect({ servers: url, name: "bench-seed", noAsyncTraces: true });
  const wire = new JsWire(nc, 60_000);
  const t0 = performance.now();
  try {
    let next = 0;
    const enc = new TextEncoder();
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        const id = newRunId();
        const now = new Date();
        await Promise.all([wire.publish(recordSubject(id), recordOf(id, i, now)), wire.publish(indexSubject("default", "default", taskOf(i)), enc.encode(id), { msgID: id })]);
        if (i > 0 && i % 100_000 === 0) log(`  seeded ${i.toLocaleString("en-US")} runs`);
      }
    };
    await Promise.all(Array.from({ length: WINDOW / 2 }, () => worker()));
  } finally {
    wire.close();
    await nc.close();
  }
  return (n * 1000) / (performance.now() - t0);
}

async function timed(times: number, fn: () => Promise<unknown>): Promise<Pcts> {
  const lat: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    await fn();
    lat.push(performance.now() - t0);
  }
  return pcts(lat);
}

/** Waits until the process has used under 2 % of a core for 2 s (e.g. the broker's record followers caught up), at most `maxMs`. */
async function settle(pid: number, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  let last = cpuSeconds(pid);
  while (Date.now() < until) {
    await sleep(2_000);
    const now = cpuSeconds(pid);
    if (now - last < 0.04) return;
    last = now;
  }
}

export async function listingAtScale(s: Settings, stack: Stack): Promise<ListingFigures> {
  const n = s.listN;
  // The broker creates the streams; it then only looks on while the runs are written.
  const b = await startBroker(stack, "broker-listing");
  await purge(stack.jsm);
  const client = new Client({ address: b.address, coalesceSubmits: false });
  try {
    log(`listing: seeding ${n.toLocaleString("en-US")} finished runs (records and index messages, the broker's codec)`);
    const seedRunsPerS = await seed(stack.nats.url, n);
    const [idx, recs] = await Promise.all([stack.jsm.streams.info(INDEX_STREAM), stack.jsm.streams.info(RUNS_BUCKET_STREAM)]);
    log(`  ${round(seedRunsPerS, 0)} runs/s; index ${idx.state.messages} messages, ${round(idx.state.bytes / 2 ** 20, 1)} MiB; records ${recs.state.messages}, ${round(recs.state.bytes / 2 ** 20, 1)} MiB`);
    const pid = b.child.proc.pid ?? 0;
    await settle(pid, 120_000);
    const idle = rssMiB(pid);
    const firstPage = await timed(20, () => client.listRuns({ pageSize: 50 }));
    let token = (await client.listRuns({ pageSize: 50 })).nextPageToken;
    const nextPages = await timed(50, async () => {
      token = (await client.listRuns({ pageSize: 50, pageToken: token })).nextPageToken;
    });
    const emptyTask = await timed(20, () => client.listRuns({ task: "bench_list_no_such_task", pageSize: 50 }));
    const emptyRunning = await timed(20, () => client.listRuns({ states: [RunState.RUN_STATE_RUNNING, RunState.RUN_STATE_PENDING], pageSize: 50 }));
    const selective = await timed(20, () => client.listRuns({ task: SPREAD[3], pageSize: 50 }));
    const rare = await timed(20, () => client.listRuns({ task: RARE, pageSize: 50 }));
    let failedFound = 0;
    const failed = await timed(10, async () => {
      failedFound = (await client.listRuns({ states: [RunState.RUN_STATE_FAILED], pageSize: 50 })).runs.length;
    });
    const failedPage = { ms: 0, calls: 0, found: 0 };
    const t0 = performance.now();
    let ft = "";
    do {
      const page = await client.listRuns({ states: [RunState.RUN_STATE_FAILED], pageSize: 50 - failedPage.found, pageToken: ft });
      failedPage.calls++;
      failedPage.found += page.runs.length;
      ft = page.nextPageToken;
    } while (failedPage.found < 50 && ft);
    failedPage.ms = performance.now() - t0;
    const after = rssMiB(pid);
    const figures: ListingFigures = {
      runs: n,
      seedRunsPerS,
      firstPage,
      nextPages,
      emptyTask,
      emptyRunning,
      selective,
      rare,
      failed,
      failedFound,
      failedPage,
      rssIdleMiB: idle.rss,
      rssAfterMiB: after.rss,
      hwmMiB: after.hwm,
      indexBytesPer100k: (idx.state.bytes * 100_000) / n,
      recordBytesPer100k: (recs.state.bytes * 100_000) / n,
    };
    log(
      `  first page p50 ${round(firstPage.p50)} ms (max ${round(firstPage.max)}), next pages p50 ${round(nextPages.p50)} ms, nothing (task) p50 ${round(emptyTask.p50)} ms, nothing (running) p50 ${round(emptyRunning.p50)} ms, ` +
        `1 % task p50 ${round(selective.p50)} ms, 0.01 % task p50 ${round(rare.p50)} ms, FAILED p50 ${round(failed.p50)} ms (${failedFound} found), 50 FAILED in ${failedPage.calls} calls, ${round(failedPage.ms)} ms; RSS ${round(idle.rss, 1)} → ${round(after.rss, 1)} MiB (peak ${round(after.hwm, 1)})`,
    );
    return figures;
  } finally {
    client.close();
    await stopBroker(b);
    await Promise.all([stack.jsm.streams.purge(INDEX_STREAM), stack.jsm.streams.purge(RUNS_BUCKET_STREAM)]);
  }
}
