// An experiment, not a phase of `make bench`: what Submit's NATS work would
// cost as one atomic batch (nats-server ≥ 2.12, ADR-50) instead of today's
// two round trips. docs/performance.md, "What would cut the crossings".
//
//   node --conditions=taskwire-source --import tsx bench/src/atomic-submit.ts [seconds per case, default 8]
//
// Today (three streams): the record's create (Nats-Expected-Last-Subject-
// Sequence: 0) and its index entry in one write, then — once the create is
// answered — the queued message, answered too. As one batch (one stream with
// allow_atomic holding all three subjects): the three messages in one write,
// the first a request (the server answers it empty), the second without a
// reply, the third with Nats-Batch-Commit (answered with the pub ack). Each
// case runs one at a time (c1) and 64 in flight (c64), closed loop, on a
// fresh nats-server; prints operations per second, median latency and
// nats-server's CPU per operation. 334-byte records as in the other phases.
import { connect, headers, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { randomUUID } from "node:crypto";
import { startNats } from "./servers.js";
import { closedLoop, cpuSeconds, pcts, round } from "./util.js";

const RECORD = new Uint8Array(334).fill(7);
const decoder = new TextDecoder();
const seconds = Number(process.argv[2] ?? 8);
if (!(seconds > 0 && seconds <= 120)) throw new Error(`seconds per case: 1–120, not ${process.argv[2]}`);

/** A header set with `pairs`, for one message. */
function hdrs(pairs: Array<[string, string]>): MsgHdrs {
  const h = headers();
  for (const [k, v] of pairs) h.set(k, v);
  return h;
}

/** Rejects when a JetStream answer carries an error. */
function checked(data: Uint8Array): void {
  if (data.length === 0) return; // the empty answer to a batch's first message
  const a = JSON.parse(decoder.decode(data)) as { error?: { description?: string } };
  if (a.error) throw new Error(a.error.description ?? "JetStream error");
}

async function today(nc: NatsConnection, i: number): Promise<void> {
  const id = `${process.pid}-${i}-${randomUUID()}`;
  const [created] = await Promise.all([
    nc.request(`rec.${id}`, RECORD, { timeout: 5_000, headers: hdrs([["Nats-Expected-Last-Subject-Sequence", "0"]]) }),
    nc.request(`idx.default.q.task`, id, { timeout: 5_000 }).then((m) => checked(m.data)),
  ]);
  checked(created.data);
  checked((await nc.request(`q.default.q.task`, RECORD, { timeout: 5_000 })).data);
}

async function batched(nc: NatsConnection, i: number): Promise<void> {
  const id = `${process.pid}-${i}-${randomUUID()}`;
  const batch = randomUUID();
  const first = nc.request(`one.rec.${id}`, RECORD, { timeout: 5_000, headers: hdrs([["Nats-Batch-Id", batch], ["Nats-Batch-Sequence", "1"], ["Nats-Expected-Last-Subject-Sequence", "0"]]) });
  nc.publish(`one.idx.default.q.task`, id, { headers: hdrs([["Nats-Batch-Id", batch], ["Nats-Batch-Sequence", "2"]]) });
  const commit = nc.request(`one.q.default.q.task`, RECORD, { timeout: 5_000, headers: hdrs([["Nats-Batch-Id", batch], ["Nats-Batch-Sequence", "3"], ["Nats-Batch-Commit", "1"]]) });
  const [a, b] = await Promise.all([first, commit]);
  checked(a.data);
  checked(b.data);
}

async function main(): Promise<void> {
  const nats = await startNats();
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    const file = { storage: StorageType.File, num_replicas: 1 };
    await jsm.streams.add({ name: "REC", subjects: ["rec.>"], max_msgs_per_subject: 64, allow_direct: true, ...file });
    await jsm.streams.add({ name: "IDX", subjects: ["idx.>"], allow_direct: true, ...file });
    await jsm.streams.add({ name: "Q", subjects: ["q.>"], retention: RetentionPolicy.Workqueue, ...file });
    // allow_atomic is newer than this nats.js's StreamConfig type.
    await jsm.streams.add({ name: "ONE", subjects: ["one.>"], allow_direct: true, ...file, ...({ allow_atomic: true } as object) });
    const pid = nats.child.proc.pid!;
    let batches = 0;
    for (const [name, op] of [["today: create ∥ index, then publish", today], ["one atomic batch: record, index, message", batched]] as const) {
      for (const conc of [1, 64]) {
        await closedLoop(conc, 2_000, 5_000, (i) => op(nc, -i - 1)); // warm-up
        const lat: number[] = [];
        const cpu0 = cpuSeconds(pid);
        const r = await closedLoop(conc, 10_000_000, seconds * 1000, async (i) => {
          const t = performance.now();
          await op(nc, i);
          lat.push(performance.now() - t);
        });
        const serverMs = ((cpuSeconds(pid) - cpu0) * 1000) / r.done;
        if (op === batched) batches += r.done + 2_000;
        console.log(`${name}, c${conc}: ${round((r.done / r.ms) * 1000, 0)} op/s, p50 ${round(pcts(lat).p50)} ms, nats-server ${round(serverMs, 3)} ms CPU per op`);
      }
    }
    // Every batch committed whole: three messages each in the one stream.
    const stored = (await jsm.streams.info("ONE")).state.messages;
    console.log(`one stream: ${stored} messages for ${batches} batches${stored === 3 * batches ? " (all committed)" : " — NOT all committed"}`);
  } finally {
    await nc.close();
    await nats.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
