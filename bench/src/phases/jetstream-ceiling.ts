// Ceiling: raw JetStream from nats.js, no taskwire: publish and consume+ack
// of a work-queue stream, then Submit's NATS work alone (a KV create and a
// stream publish in sequence), with and without nats.js's async traces.
import { randomUUID } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { Nats } from "../servers.js";
import { SUBMIT_BYTES } from "../runs.js";
import { CONC, type Settings } from "../settings.js";
import { closedLoop, consumeAndAck, log, PAYLOAD, round } from "../util.js";

export interface JetStreamCeiling {
  /** Stream publishes per second (async, acked, CONC in flight). */
  pub: number;
  /** Consume + ack per second. */
  consume: number;
  /** KV create + publish per second, default connection. */
  kvPub: number;
  /** The same with noAsyncTraces: true. */
  kvPubNoTraces: number;
  /** For the results' details. */
  kvCeiling: { kvPub: number; kvPubNoTraces: number; clientCpuMsPerOp: number; clientCpuMsPerOpNoTraces: number };
}

export async function jetstreamCeiling(s: Settings, nats: Nats): Promise<JetStreamCeiling> {
  log(`ceilings: raw JetStream publish/consume of ${s.rawN} messages`);
  const nc = await connect({ servers: nats.url, name: "bench-raw" });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const stream = "BENCH_RAW";
  await jsm.streams.add({ name: stream, subjects: ["bench.raw.>"], retention: RetentionPolicy.Workqueue, storage: StorageType.File, duplicate_window: 120_000 * 1_000_000 });
  const data = new TextEncoder().encode(JSON.stringify(PAYLOAD));
  try {
    const p = await closedLoop(CONC, s.rawN, 120_000, async () => {
      await js.publish("bench.raw.default.bench_noop", data);
    });
    const pub = (p.done / p.ms) * 1000;
    const drained = await consumeAndAck(nc, js, jsm, stream, "raw", p.done, 120_000);
    const consume = (drained.n / drained.ms) * 1000;
    log(`  publish ${round(pub, 0)}/s, consume+ack ${round(consume, 0)}/s`);

    // The broker's JetStream work per Submit without gRPC: a KV create (the
    // run record) then a stream publish, in sequence, 64 in flight.
    const kv = await new Kvm(js).create("bench_raw_kv", { history: 64, storage: StorageType.File, allow_direct: true });
    const record = new Uint8Array(SUBMIT_BYTES * 3).fill(1);
    const c1 = process.cpuUsage();
    const kp = await closedLoop(CONC, s.rawN / 2, 120_000, async () => {
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
    const kp2 = await closedLoop(CONC, s.rawN / 2, 120_000, async () => {
      const id = randomUUID();
      await kv2.create(id, record);
      await js2.publish("bench.raw.default.bench_noop", data, { msgID: id });
    });
    const cpu2 = process.cpuUsage(c0);
    const kvPubNoTraces = (kp2.done / kp2.ms) * 1000;
    await kv2.destroy();
    await nc2.close();
    log(`  KV create + publish ${round(kvPub, 0)}/s; with noAsyncTraces ${round(kvPubNoTraces, 0)}/s`);
    const kvCeiling = { kvPub, kvPubNoTraces, clientCpuMsPerOp: (cpu1.user + cpu1.system) / 1000 / kp.done, clientCpuMsPerOpNoTraces: (cpu2.user + cpu2.system) / 1000 / kp2.done };
    return { pub, consume, kvPub, kvPubNoTraces, kvCeiling };
  } finally {
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  }
}
