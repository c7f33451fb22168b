// nats-server versions side by side: the JetStream work taskwire does most,
// measured on each binary in turn, interleaved (A B C, B C A, C A B, …) so
// that a machine whose load changes over the minutes does not favour one.
//
//   node --conditions=taskwire-source --import tsx bench/src/nats-versions.ts \
//     [--rounds 3] [--n 3000] [--cas-pairs 300] BIN…
//
// Per run, on a fresh single-node server (file store, temp dir):
// - "KV create + publish": Submit's NATS work without gRPC (a KV create of a
//   run-record-sized value, then a publish with a message id), 64 in flight;
// - "consume + ack": the published messages drained by a pull consumer,
//   each acked;
// each with its rate, the server's CPU per operation (/proc, Linux) and the
// messages into and out of the server per operation (/varz deltas).
// With --cas-pairs N (> 0), once per binary: a three-node cluster, an R3 KV
// bucket, and N pairs of compare-and-set updates against the same revision
// sent at once through two different nodes; counts the pairs where both
// writes were stored (at most one should be).
import { randomUUID } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { freePort, startNats } from "./servers.js";
import { type Child, closedLoop, consumeAndAck, cpuSeconds, portOpen, round, startChild, tmpName, waitFor } from "./util.js";
import { CONC } from "./settings.js";

const RECORD = new Uint8Array(180).fill(1); // about a Submit's run record
const DATA = new TextEncoder().encode(JSON.stringify({ user: "u-123", action: "email", n: 42 }));

interface Varz {
  in_msgs: number;
  out_msgs: number;
}

interface Run {
  kvPerSec: number;
  kvServerUs: number;
  kvClientUs: number;
  kvMsgsIn: number;
  kvMsgsOut: number;
  consumePerSec: number;
  consumeServerUs: number;
  consumeMsgsIn: number;
  consumeMsgsOut: number;
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  process.argv.splice(i, 2);
  return v;
}

function versionOf(bin: string): string {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  return /v?(\d+\.\d+\.\d+\S*)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? "?";
}

async function once(bin: string, n: number): Promise<Run> {
  process.env.TASKWIRE_NATS_SERVER = bin;
  const nats = await startNats();
  const pid = nats.child.proc.pid!;
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: nats.url, name: "nats-versions" });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "VBENCH", subjects: ["vbench.>"], retention: RetentionPolicy.Workqueue, storage: StorageType.File, duplicate_window: 120_000 * 1_000_000 });
    const kv = await new Kvm(js).create("vbench_kv", { history: 64, storage: StorageType.File, allow_direct: true });
    // Warm up (connections, the stores' first blocks), not counted.
    await closedLoop(CONC, 200, 30_000, async () => {
      await kv.create(randomUUID(), RECORD);
    });
    await nc.flush();

    const v0 = await nats.monitor<Varz>("/varz");
    const s0 = cpuSeconds(pid);
    const c0 = process.cpuUsage();
    const kp = await closedLoop(CONC, n, 60_000, async () => {
      const id = randomUUID();
      await kv.create(id, RECORD);
      await js.publish("vbench.default.noop", DATA, { msgID: id });
    });
    const c1 = process.cpuUsage(c0);
    const s1 = cpuSeconds(pid);
    const v1 = await nats.monitor<Varz>("/varz");

    const { n: got, ms: consumeMs } = await consumeAndAck(nc, js, jsm, "VBENCH", "vb", kp.done, 60_000);
    // Acks are fire-and-forget: wait until the server has taken them all.
    for (let i = 0; i < 100; i++) {
      const info = await jsm.streams.info("VBENCH");
      if (info.state.messages === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const s2 = cpuSeconds(pid);
    const v2 = await nats.monitor<Varz>("/varz");
    return {
      kvPerSec: (kp.done / kp.ms) * 1000,
      kvServerUs: ((s1 - s0) * 1e6) / kp.done,
      kvClientUs: (c1.user + c1.system) / kp.done,
      kvMsgsIn: (v1.in_msgs - v0.in_msgs) / kp.done,
      kvMsgsOut: (v1.out_msgs - v0.out_msgs) / kp.done,
      consumePerSec: (got / consumeMs) * 1000,
      consumeServerUs: ((s2 - s1) * 1e6) / got,
      consumeMsgsIn: (v2.in_msgs - v1.in_msgs) / got,
      consumeMsgsOut: (v2.out_msgs - v1.out_msgs) / got,
    };
  } finally {
    await nc?.close().catch(() => {});
    await nats.stop();
  }
}

/** Three clustered nats-servers with JetStream on 127.0.0.1 (file stores in a temp dir). */
async function startCluster(bin: string): Promise<{ urls: string[]; stop(): Promise<void> }> {
  const dir = tmpName("taskwire-bench-cluster");
  const nodes = [];
  for (let i = 0; i < 3; i++) nodes.push({ name: `n${i + 1}`, port: await freePort(), cluster: await freePort() });
  const children: Child[] = [];
  for (const n of nodes) {
    const store = join(dir, n.name);
    mkdirSync(store, { recursive: true });
    const routes = nodes.filter((o) => o !== n).map((o) => JSON.stringify(`nats-route://127.0.0.1:${o.cluster}`));
    const conf = join(store, "nats.conf");
    writeFileSync(conf, `server_name: ${n.name}\nlisten: "127.0.0.1:${n.port}"\njetstream { store_dir: ${JSON.stringify(join(store, "js"))} }\ncluster { name: vbench, listen: "127.0.0.1:${n.cluster}", routes: [${routes.join(", ")}] }\n`);
    children.push(startChild(`nats-${n.name}`, bin, ["-c", conf]));
  }
  const stop = async (): Promise<void> => {
    for (const c of children) await c.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const n of nodes) await waitFor(() => portOpen(n.port), `cluster node ${n.name}`, 15_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { urls: nodes.map((n) => `nats://127.0.0.1:${n.port}`), stop };
}

/** Pairs of racing compare-and-set updates on an R3 bucket where both were stored. */
async function casRace(bin: string, pairs: number): Promise<number> {
  const cluster = await startCluster(bin);
  const conns: NatsConnection[] = [];
  try {
    for (const u of cluster.urls.slice(0, 2)) conns.push(await connect({ servers: u, name: "cas-race" }));
    const [a, b] = conns as [NatsConnection, NatsConnection];
    // The meta leader is elected a moment after the nodes listen: retry the create until then.
    const kvA = await waitFor(() => new Kvm(jetstream(a)).create("vbench_cas", { history: 5, replicas: 3, storage: StorageType.File }).catch(() => undefined), "an R3 bucket", 30_000, 200);
    await waitFor(() => kvA.put("warm", RECORD).catch(() => undefined), "the bucket's leader", 30_000, 100);
    const kvB = await new Kvm(jetstream(b)).open("vbench_cas");
    let both = 0;
    for (let i = 0; i < pairs; i++) {
      const key = `k${i}`;
      const rev = await kvA.put(key, RECORD);
      const r = await Promise.allSettled([kvA.update(key, DATA, rev), kvB.update(key, DATA, rev)]);
      if (r.every((x) => x.status === "fulfilled")) both++;
    }
    return both;
  } finally {
    for (const c of conns) await c.close().catch(() => {});
    await cluster.stop();
  }
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const range = (xs: number[], d: number): string => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi || round(lo, d) === round(hi, d) ? `${round(lo, d)}` : `${round(lo, d)}–${round(hi, d)}`;
};

async function main(): Promise<void> {
  const rounds = arg("rounds", 3);
  const n = arg("n", 3000);
  const casPairs = arg("cas-pairs", 0);
  const bins = process.argv.slice(2);
  if (bins.length === 0) throw new Error("usage: nats-versions.ts [--rounds 3] [--n 3000] [--cas-pairs 300] BIN…");
  const names = bins.map((b) => `v${versionOf(b)}`);
  const runs = new Map<string, Run[]>(names.map((nm) => [nm, []]));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < bins.length; k++) {
      const i = (k + r) % bins.length;
      const run = await once(bins[i]!, n);
      runs.get(names[i]!)!.push(run);
      console.error(`round ${r + 1} ${names[i]}: KV create+publish ${round(run.kvPerSec, 0)}/s ${round(run.kvServerUs, 1)} µs server; consume+ack ${round(run.consumePerSec, 0)}/s ${round(run.consumeServerUs, 1)} µs server`);
    }
  }
  const cas = new Map<string, number>();
  if (casPairs > 0) {
    for (const [i, b] of bins.entries()) {
      const both = await casRace(b, casPairs);
      cas.set(names[i]!, both);
      console.error(`${names[i]}: ${both} of ${casPairs} racing compare-and-set pairs both stored (R3)`);
    }
  }
  console.log(`\n${rounds} rounds, interleaved, ${n} operations each; ranges over the rounds (mean in brackets)\n`);
  console.log("| nats-server | KV create + publish /s | server µs/op | client µs/op | msgs in/out per op | consume + ack /s | server µs/msg | msgs in/out per msg |" + (casPairs ? " R3 CAS pairs both stored |" : ""));
  console.log("|---|---|---|---|---|---|---|---|" + (casPairs ? "---|" : ""));
  for (const nm of names) {
    const rs = runs.get(nm)!;
    const col = (f: (x: Run) => number, d: number): string => `${range(rs.map(f), d)} (${round(mean(rs.map(f)), d)})`;
    console.log(
      `| ${nm} | ${col((x) => x.kvPerSec, 0)} | ${col((x) => x.kvServerUs, 1)} | ${col((x) => x.kvClientUs, 1)} | ${round(mean(rs.map((x) => x.kvMsgsIn)), 2)} / ${round(mean(rs.map((x) => x.kvMsgsOut)), 2)} | ${col((x) => x.consumePerSec, 0)} | ${col((x) => x.consumeServerUs, 1)} | ${round(mean(rs.map((x) => x.consumeMsgsIn)), 2)} / ${round(mean(rs.map((x) => x.consumeMsgsOut)), 2)} |` +
        (casPairs ? ` ${cas.get(nm)} of ${casPairs} |` : ""),
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
