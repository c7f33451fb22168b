// Floor: the NATS operations that a run's claim and outcome need, alone.
// A worker draining a queue has to, per run: receive the message (which
// carries the record and its revision), write RUNNING and then the outcome
// with compare-and-set, and ack. Here exactly those operations run through the
// worker's own wire (JsWire: direct gets, compare-and-set publishes) on one
// connection, 64 in flight, with no taskwire logic (no decoding, no
// lifecycle, no heartbeats, no tracing). What this reaches on a machine is
// the most any worker built on these operations can drain there; the
// variants show what each operation costs.
import { connect } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { JsWire } from "@taskwire/core";
import type { Nats } from "../servers.js";
import { SUBMIT_BYTES } from "../runs.js";
import { CONC } from "../settings.js";
import { log, round } from "../util.js";

/** One variant: which of the per-run operations it does. */
export interface FloorVariant {
  name: string;
  /** Read the record (direct get) before the first write; otherwise the message carries the revision. */
  read: boolean;
  /** Compare-and-set writes per run (2: RUNNING then the outcome; 1: the outcome only). */
  writes: 1 | 2;
}

export const FLOOR_VARIANTS: readonly FloorVariant[] = [
  { name: "consume, 2 compare-and-set writes, ack (taskwire's default: the message carries the revision)", read: false, writes: 2 },
  { name: "consume, read, 2 compare-and-set writes, ack (the revision read first)", read: true, writes: 2 },
  { name: "consume, 1 compare-and-set write, ack (start folded into the outcome)", read: false, writes: 1 },
];

export interface FloorFigure {
  variant: string;
  /** Runs drained per second. */
  rate: number;
  /** CPU of the draining process per run, ms. */
  clientCpuMsPerRun: number;
  /** nats-server CPU per run, ms (undefined when its pid is unknown). */
  serverCpuMsPerRun: number | undefined;
}

const WIRE_TIMEOUT_MS = 10_000;

/** Drains `n` preloaded runs with each variant in turn. */
export async function drainFloor(nats: Nats, n: number, serverCpuMs: () => number | undefined): Promise<FloorFigure[]> {
  log(`floor: the NATS work of a run's claim and outcome alone, ${n} runs per variant`);
  const nc = await connect({ servers: nats.url, name: "bench-floor", noAsyncTraces: true });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const wire = new JsWire(nc, WIRE_TIMEOUT_MS);
  const bucket = "bench_floor";
  const kvStream = `KV_${bucket}`;
  const stream = "BENCH_FLOOR";
  const out: FloorFigure[] = [];
  try {
    const kv = await new Kvm(js).create(bucket, { history: 64, storage: StorageType.File, allow_direct: true });
    await jsm.streams.add({ name: stream, subjects: ["bench.floor.>"], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
    const record = new Uint8Array(SUBMIT_BYTES * 3).fill(7);
    for (const [vi, v] of FLOOR_VARIANTS.entries()) {
      const subject = `bench.floor.v${vi}`;
      // Preload: each run's record, then its message (the id and the record's revision).
      let next = 0;
      await Promise.all(
        Array.from({ length: CONC }, async () => {
          while (next < n) {
            const id = `v${vi}-${next++}`;
            const ack = await wire.publish(`$KV.${bucket}.${id}`, record, { expectedLastSubjectSeq: 0 });
            await wire.publish(subject, new TextEncoder().encode(`${id} ${ack.seq}`));
          }
        }),
      );
      await jsm.consumers.add(stream, { durable_name: `floor${vi}`, filter_subject: subject, ack_policy: AckPolicy.Explicit, max_ack_pending: CONC });
      const c = await js.consumers.get(stream, `floor${vi}`);
      let done = 0;
      const cpu0 = process.cpuUsage();
      const srv0 = serverCpuMs();
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`floor: only ${done} of ${n} drained in 120 s`)), 120_000);
        void c
          .consume({
            max_messages: CONC,
            callback: (m) => {
              void (async () => {
                const [id = "", seqText = "0"] = new TextDecoder().decode(m.data).split(" ");
                const key = `$KV.${bucket}.${id}`;
                let rev = Number(seqText);
                if (v.read) rev = (await wire.getLast(kvStream, key))?.seq ?? 0;
                for (let w = 0; w < v.writes; w++) rev = (await wire.publish(key, record, { expectedLastSubjectSeq: rev })).seq;
                m.ack();
                if (++done === n) {
                  clearTimeout(timer);
                  resolve();
                }
              })().catch((err: unknown) => {
                clearTimeout(timer);
                reject(err instanceof Error ? err : new Error(String(err)));
              });
            },
          })
          .catch(reject);
      });
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const srv1 = serverCpuMs();
      await nc.flush();
      const fig: FloorFigure = {
        variant: v.name,
        rate: (n / ms) * 1000,
        clientCpuMsPerRun: (cpu.user + cpu.system) / 1000 / n,
        serverCpuMsPerRun: srv0 !== undefined && srv1 !== undefined ? (srv1 - srv0) / n : undefined,
      };
      out.push(fig);
      log(`  ${v.name}: ${round(fig.rate, 0)}/s, client ${round(fig.clientCpuMsPerRun, 3)} ms/run, nats-server ${fig.serverCpuMsPerRun === undefined ? "?" : round(fig.serverCpuMsPerRun, 3)} ms/run`);
      await jsm.consumers.delete(stream, `floor${vi}`);
    }
    await kv.destroy();
    return out;
  } finally {
    await jsm.streams.delete(stream).catch(() => {});
    await jsm.streams.delete(kvStream).catch(() => {});
    await nc.close();
  }
}
