// The end-to-end floor's worker (bench/src/phases/e2e-floor.ts), in its own
// process like taskwire's: consumes the floor's work queue 64 at a time and
// does, per run, exactly the NATS work of taskwire's default claim and
// outcome — RUNNING written with compare-and-set at the revision the
// message carries, the no-op task, the outcome with compare-and-set, then
// the ack — with no decoding, lifecycle, heartbeats, metrics or tracing.
// The outcome record carries the run's start and finish times (wall-clock
// ms), as taskwire's carries startedAt and finishedAt. With <writes> 1 the
// RUNNING write is left out (the start folded into the outcome, as the TS
// worker's opt-in `startRecordDelayMs` does for short attempts).
// Args: <nats url> <bucket> <stream> <consumer> <writes: 2 | 1>. Prints "ready".
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { JsWire } from "@taskwire/core";
import { wallNow } from "./clock.js";

const [url = "", bucket = "", stream = "", consumer = "", writes = "2"] = process.argv.slice(2);
const claimFirst = writes !== "1";
const CONC = 64;
const nc = await connect({ servers: url, name: "bench-floor-worker", noAsyncTraces: true });
const wire = new JsWire(nc, 10_000);
const js = jetstream(nc);
const enc = new TextEncoder();
const dec = new TextDecoder();

const c = await js.consumers.get(stream, consumer);
const messages = await c.consume({
  max_messages: CONC,
  callback: (m) => {
    const nl = m.data.indexOf(10);
    const [id = "", seq = "0"] = dec.decode(m.data.subarray(0, nl)).split(" ");
    const record = m.data.subarray(nl + 1);
    const key = `$KV.${bucket}.${id}`;
    const started = wallNow();
    (claimFirst ? wire.publish(key, record, { expectedLastSubjectSeq: Number(seq) }) : Promise.resolve({ seq: Number(seq) }))
      .then((running) => {
        const times = enc.encode(`${started} ${wallNow()}\n`);
        const outcome = new Uint8Array(times.length + record.length);
        outcome.set(times);
        outcome.set(record, times.length);
        return wire.publish(key, outcome, { expectedLastSubjectSeq: running.seq });
      })
      .then(
        () => m.ack(),
        (err: unknown) => process.stderr.write(`floor worker: run ${id}: ${String(err)}\n`),
      );
  },
});
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  messages.stop();
  void nc.close().finally(() => process.exit(0));
});
