// An experiment, not a phase of `make bench`: what each kind of NATS
// operation a run makes costs nats-server when operations travel alone (1,000
// per second, as in the paced phase): its CPU and its threads' wake-ups
// (voluntary context switches) per operation. docs/performance.md, "What a
// run costs at 1,000/s".
//
//   node --conditions=taskwire-source --import tsx bench/src/nats-wakeups.ts [seconds per case, default 5] [GOMAXPROCS]
//
// A fresh nats-server per case (file store, as in the bench), one client
// connection sending and, where a case has one, a second connection
// receiving (as broker and worker are separate processes). Cases:
//   core request     — a core NATS request answered by a subscriber (no JetStream)
//   stream publish   — a JetStream publish to a limits stream, answered
//   record create    — a publish with Nats-Expected-Last-Subject-Sequence: 0 (a KV create)
//   … with a follower — the same with an ordered push consumer on the stream (the broker's history follower)
//   queue + consume + ack — a publish to a work-queue stream, pulled by the second connection and acked
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { startNats } from "./servers.js";
import { contextSwitches, cpuSeconds, openLoop, pcts, round } from "./util.js";

const RECORD = new Uint8Array(334).fill(7);
const seconds = Number(process.argv[2] ?? 5);
if (!(seconds > 0 && seconds <= 60)) throw new Error(`seconds per case: 1–60, not ${process.argv[2]}`);
const maxProcs = process.argv[3];
if (maxProcs !== undefined && !/^[1-9][0-9]?$/.test(maxProcs)) throw new Error(`GOMAXPROCS: 1–99, not ${maxProcs}`);
const RATE = 1_000;

type Case = (a: NatsConnection, b: NatsConnection) => Promise<{ op: (i: number) => Promise<void>; close: () => Promise<void> }>;

const file = { storage: StorageType.File, num_replicas: 1 };

const cases: Array<[string, Case]> = [
  [
    "core request",
    async (a, b) => {
      const sub = b.subscribe("echo", { callback: (_e, m) => void m.respond(m.data) });
      await b.flush();
      return { op: async () => void (await a.request("echo", RECORD, { timeout: 5_000 })), close: async () => sub.unsubscribe() };
    },
  ],
  [
    "stream publish",
    async (a) => {
      await (await jetstreamManager(a)).streams.add({ name: "S", subjects: ["s.>"], ...file });
      const js = jetstream(a);
      return { op: async (i) => void (await js.publish(`s.${i}`, RECORD)), close: async () => {} };
    },
  ],
  [
    "record create",
    async (a) => {
      await (await jetstreamManager(a)).streams.add({ name: "REC", subjects: ["rec.>"], max_msgs_per_subject: 64, allow_direct: true, ...file });
      const js = jetstream(a);
      const h = headers();
      h.set("Nats-Expected-Last-Subject-Sequence", "0");
      return { op: async (i) => void (await js.publish(`rec.${i}`, RECORD, { headers: h })), close: async () => {} };
    },
  ],
  [
    "record create, with a follower",
    async (a, b) => {
      await (await jetstreamManager(a)).streams.add({ name: "REC", subjects: ["rec.>"], max_msgs_per_subject: 64, allow_direct: true, ...file });
      const js = jetstream(a);
      const h = headers();
      h.set("Nats-Expected-Last-Subject-Sequence", "0");
      const follower = await (await jetstream(b).consumers.get("REC", { deliver_policy: DeliverPolicy.New })).consume({ callback: () => {} });
      return { op: async (i) => void (await js.publish(`rec.${i}`, RECORD, { headers: h })), close: async () => void (await follower.close()) };
    },
  ],
  [
    "queue publish + consume + ack",
    async (a, b) => {
      const jsm = await jetstreamManager(a);
      await jsm.streams.add({ name: "Q", subjects: ["q.>"], retention: RetentionPolicy.Workqueue, ...file });
      await jsm.consumers.add("Q", { durable_name: "w", ack_policy: AckPolicy.Explicit, max_ack_pending: -1 });
      const js = jetstream(a);
      const msgs = await (await jetstream(b).consumers.get("Q", "w")).consume({ max_messages: 64, expires: 5_000, callback: (m) => m.ack() });
      return { op: async (i) => void (await js.publish(`q.${i}`, RECORD)), close: async () => void (await msgs.close()) };
    },
  ],
];

async function main(): Promise<void> {
  if (maxProcs !== undefined) process.env.GOMAXPROCS = maxProcs; // inherited by the server started below
  console.log(`nats-server per operation at ${RATE}/s, ${seconds} s per case${maxProcs ? `, GOMAXPROCS=${maxProcs}` : ""}`);
  console.log("| case | nats-server CPU ms/op | wake-ups/op (voluntary) | preempted/op | latency p50 / p99 ms |\n|---|---|---|---|---|");
  for (const [name, make] of cases) {
    const nats = await startNats();
    const a = await connect({ servers: nats.url, noAsyncTraces: true });
    const b = await connect({ servers: nats.url, noAsyncTraces: true });
    try {
      const { op, close } = await make(a, b);
      await openLoop(RATE, 1_000, op); // warm-up
      const pid = nats.child.proc.pid!;
      const cpu0 = cpuSeconds(pid);
      const sw0 = contextSwitches(pid);
      const r = await openLoop(RATE, seconds * 1000, op);
      const cpu = ((cpuSeconds(pid) - cpu0) * 1000) / r.sent;
      const sw = contextSwitches(pid);
      const p = pcts(r.lat);
      console.log(`| ${name} | ${round(cpu, 3)} | ${round((sw.voluntary - sw0.voluntary) / r.sent, 2)} | ${round((sw.involuntary - sw0.involuntary) / r.sent, 2)} | ${round(p.p50)} / ${round(p.p99)} |`);
      await close();
    } finally {
      await a.close();
      await b.close();
      await nats.stop();
    }
  }
}

await main();
