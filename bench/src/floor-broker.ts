// The end-to-end floor's broker (bench/src/phases/e2e-floor.ts), in its own
// process like taskwire's: a raw grpc-js server whose one method takes a
// stream of Submit batches and does, per run, exactly the NATS work of
// taskwire's Submit — the record created with compare-and-set against "no
// such key" and the run's index entry, in parallel, then the run's message
// (the record at the revision just written) on the work queue, all acked
// before the answer — plus the record history follower every broker keeps
// (an ordered consumer that receives every revision). No validation, no
// protobuf of its own, no lifecycle, no metrics, no tracing: what is left
// is the cost of the design's operations on this machine.
// With <mode> "min" the index entry and the follower are left out: a Submit
// is the record's create, then the message — the least NATS work of any
// design that keeps a record per run next to its queued message.
// Args: <nats url> <bucket> <index subject> <queue subject> [full | min]. Prints "port <n>".
import { join } from "node:path";
import { Server, ServerCredentials, type ServerDuplexStream, loadPackageDefinition, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { connect } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { JsWire, newRunId } from "@taskwire/core";

const [url = "", bucket = "", indexSubject = "", queueSubject = "", mode = "full"] = process.argv.slice(2);
const full = mode !== "min";
/** A stored record of the size taskwire's is for the bench's run (~3× its request). */
const RECORD_PAD = 3;

interface Batch {
  id: string;
  runs: Buffer[];
}

const nc = await connect({ servers: url, name: "bench-floor-broker", noAsyncTraces: true });
const wire = new JsWire(nc, 10_000);
const js = jetstream(nc);
const enc = new TextEncoder();

// The record history follower: every revision of every record, as the broker's reconciler and StreamEvents' tail read them.
let revisionsSeen = 0;
const follower = full ? await (await js.consumers.get(`KV_${bucket}`, { filter_subjects: `$KV.${bucket}.>`, deliver_policy: DeliverPolicy.New })).consume({ callback: () => void revisionsSeen++ }) : undefined;

/** One run's Submit: record and index entry in parallel (the record alone in "min"), then the message carrying the record's revision. */
async function submitOne(req: Buffer): Promise<string> {
  const id = newRunId();
  const record = new Uint8Array(req.length * RECORD_PAD);
  record.set(req);
  const create = wire.publish(`$KV.${bucket}.${id}`, record, { expectedLastSubjectSeq: 0 });
  const [created] = full ? await Promise.all([create, wire.publish(indexSubject, enc.encode(id), { msgID: id })]) : [await create];
  const head = enc.encode(`${id} ${created.seq}\n`);
  const msg = new Uint8Array(head.length + record.length);
  msg.set(head);
  msg.set(record, head.length);
  await wire.publish(queueSubject, msg, { msgID: id });
  return id;
}

const def = loadSync(join(import.meta.dirname, "floor.proto"), { longs: String });
const pkg = loadPackageDefinition(def) as unknown as { benchfloor: { Floor: { service: ServiceDefinition } } };
// The broker's server options (channelz off), as the echo ceiling uses.
const server = new Server({ "grpc.keepalive_time_ms": 60_000, "grpc.keepalive_permit_without_calls": 1, "grpc.enable_channelz": 0 });
const impl: UntypedServiceImplementation = {
  Submit: (call: ServerDuplexStream<Batch, { id: string; ids: string[] }>) => {
    call.on("data", (b: Batch) => {
      Promise.all(b.runs.map(submitOne)).then(
        (ids) => call.write({ id: b.id, ids }),
        (err: unknown) => call.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    });
    call.on("end", () => call.end());
  },
};
server.addService(pkg.benchfloor.Floor.service, impl);
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`port ${port}\n`);
});
process.on("SIGTERM", () => {
  process.stderr.write(`revisions followed: ${revisionsSeen}\n`);
  follower?.stop();
  server.tryShutdown(() => void nc.close().finally(() => process.exit(0)));
});
