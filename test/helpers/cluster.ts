// A three-node nats-server cluster with JetStream on 127.0.0.1, for the
// node-loss tests: kill a node with SIGKILL, restart it with its store, find
// the meta leader and the leader of a stream. Everything waits by polling
// the servers' monitoring endpoints; no fixed sleeps.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findNatsServer, freePort } from "@taskwire/cli";
import "./nats-bin.js";

/** One node's ports and store. */
export interface ClusterNode {
  name: string;
  clientPort: number;
  clusterPort: number;
  monitorPort: number;
  storeDir: string;
  url: string;
  proc: ChildProcess | undefined;
}

/** The parts of /jsz this helper reads. */
interface Jsz {
  server_id?: string;
  meta_cluster?: { name?: string; leader?: string; cluster_size?: number; replicas?: Array<{ name: string; current: boolean; offline?: boolean }> };
  account_details?: Array<{ stream_detail?: Array<{ name: string; cluster?: { leader?: string; replicas?: Array<{ name: string; current: boolean; offline?: boolean; lag?: number }> }; state?: { messages: number; last_seq: number } }> }>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function poll<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`cluster: timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await sleep(everyMs);
  }
}

async function getJson<T>(url: string, timeoutMs = 1_000): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/**
 * Three nats-servers clustered with JetStream (file store, one temporary
 * directory each), started by `start()`. `urls` is the comma-joined client
 * URL list taskwire's brokers and workers take.
 */
export class NatsCluster {
  readonly nodes: ClusterNode[] = [];
  readonly #dir: string;
  readonly #bin: string;

  constructor(readonly size = 3) {
    const bin = findNatsServer();
    if (!bin) throw new Error("nats-server not found (TASKWIRE_NATS_SERVER, PATH or /usr/sbin)");
    this.#bin = bin;
    this.#dir = mkdtempSync(join(tmpdir(), "taskwire-cluster-"));
  }

  /** Client URLs, comma-joined. */
  get urls(): string {
    return this.nodes.map((n) => n.url).join(",");
  }

  static async start(size = 3): Promise<NatsCluster> {
    const c = new NatsCluster(size);
    try {
      await c.#init();
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  async #init(): Promise<void> {
    const ports = new Set<number>();
    const take = async (): Promise<number> => {
      for (;;) {
        const p = await freePort();
        if (!ports.has(p)) {
          ports.add(p);
          return p;
        }
      }
    };
    for (let i = 0; i < this.size; i++) {
      const clientPort = await take();
      const storeDir = join(this.#dir, `n${i + 1}`);
      mkdirSync(storeDir, { recursive: true });
      this.nodes.push({ name: `n${i + 1}`, clientPort, clusterPort: await take(), monitorPort: await take(), storeDir, url: `nats://127.0.0.1:${clientPort}`, proc: undefined });
    }
    for (const n of this.nodes) this.#writeConfig(n);
    for (let i = 0; i < this.size; i++) this.#spawn(i);
    await Promise.all(this.nodes.map((_, i) => this.waitHealthy(i)));
    await this.metaPeersCurrent();
  }

  /**
   * Waits until the meta leader sees every other node as a current peer:
   * before that, creating a replicated stream can fail with "no suitable
   * peers for placement, peer offline" (seen with nats-server 2.15 on a
   * loaded machine). Returns the meta leader's index.
   */
  async metaPeersCurrent(timeoutMs = 30_000): Promise<number> {
    return poll(
      async () => {
        const leader = await this.metaLeader(timeoutMs);
        const replicas = (await this.jsz(leader).catch(() => undefined))?.meta_cluster?.replicas ?? [];
        const live = this.nodes.filter((n) => this.#alive(n)).length;
        return replicas.length >= live - 1 && replicas.every((r) => r.current && !r.offline) ? leader : undefined;
      },
      "every node a current meta peer",
      timeoutMs,
    );
  }

  #conf(n: ClusterNode): string {
    return join(n.storeDir, "nats.conf");
  }

  #writeConfig(n: ClusterNode): void {
    const routes = this.nodes.filter((o) => o !== n).map((o) => `nats-route://127.0.0.1:${o.clusterPort}`);
    writeFileSync(
      this.#conf(n),
      [
        `server_name: ${n.name}`,
        `listen: "127.0.0.1:${n.clientPort}"`,
        `http: "127.0.0.1:${n.monitorPort}"`,
        "max_payload: 8MB",
        `jetstream { store_dir: ${JSON.stringify(join(n.storeDir, "js"))} }`,
        `cluster { name: taskwire-test, listen: "127.0.0.1:${n.clusterPort}", routes: [${routes.map((r) => JSON.stringify(r)).join(", ")}] }`,
        "",
      ].join("\n"),
    );
  }

  #spawn(i: number): void {
    const n = this.#node(i);
    const verbose = process.env.TASKWIRE_CLUSTER_VERBOSE === "1";
    const proc = spawn(this.#bin, ["-c", this.#conf(n)], { stdio: verbose ? ["ignore", "inherit", "inherit"] : "ignore" });
    n.proc = proc;
  }

  #node(i: number): ClusterNode {
    const n = this.nodes[i];
    if (!n) throw new Error(`cluster: no node ${i}`);
    return n;
  }

  #alive(n: ClusterNode): boolean {
    return !!n.proc && n.proc.exitCode === null && n.proc.signalCode === null;
  }

  /** /jsz of node `i` (with `query`, e.g. "streams=1"). */
  jsz(i: number, query = ""): Promise<Jsz> {
    return getJson<Jsz>(`http://127.0.0.1:${this.#node(i).monitorPort}/jsz${query ? `?${query}` : ""}`);
  }

  /** Waits until node `i` answers /healthz with JetStream ok (its streams are current). */
  async waitHealthy(i: number, timeoutMs = 30_000): Promise<void> {
    const n = this.#node(i);
    await poll(
      async () => {
        if (!this.#alive(n)) throw new Error(`${n.name} exited`);
        const res = await fetch(`http://127.0.0.1:${n.monitorPort}/healthz?js-enabled=true`, { signal: AbortSignal.timeout(1_000) });
        return res.ok;
      },
      `${n.name} healthy`,
      timeoutMs,
    );
  }

  /** Index of the node that is meta leader (as every live node sees it), waiting until there is one. */
  async metaLeader(timeoutMs = 30_000): Promise<number> {
    return poll(
      async () => {
        const seen = new Set<string>();
        for (const [i, n] of this.nodes.entries()) {
          if (!this.#alive(n)) continue;
          const leader = (await this.jsz(i).catch(() => undefined))?.meta_cluster?.leader;
          if (!leader) return undefined;
          seen.add(leader);
        }
        if (seen.size !== 1) return undefined;
        const idx = this.nodes.findIndex((n) => seen.has(n.name) && this.#alive(n));
        return idx >= 0 ? idx : undefined;
      },
      "a meta leader",
      timeoutMs,
    );
  }

  /** Index of the node leading `stream` (e.g. TASKWIRE_RUNS, KV_taskwire_runs), waiting until it has one. */
  async streamLeader(stream: string, timeoutMs = 30_000): Promise<number> {
    return poll(
      async () => {
        for (const [i, n] of this.nodes.entries()) {
          if (!this.#alive(n)) continue;
          const j = await this.jsz(i, "accounts=1&streams=1").catch(() => undefined);
          for (const a of j?.account_details ?? []) {
            for (const s of a.stream_detail ?? []) {
              if (s.name !== stream || !s.cluster?.leader) continue;
              const idx = this.nodes.findIndex((o) => o.name === s.cluster?.leader);
              if (idx >= 0 && this.#alive(this.#node(idx))) return idx;
            }
          }
        }
        return undefined;
      },
      `a leader of ${stream}`,
      timeoutMs,
    );
  }

  /** Kills node `i` with SIGKILL and waits until it is gone. */
  async kill(i: number): Promise<void> {
    const n = this.#node(i);
    const proc = n.proc;
    if (!proc || !this.#alive(n)) return;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGKILL");
    await exited;
    n.proc = undefined;
  }

  /** Starts node `i` again on its ports with its store, and waits until it is healthy (caught up). */
  async restart(i: number, timeoutMs = 60_000): Promise<void> {
    const n = this.#node(i);
    if (this.#alive(n)) await this.kill(i);
    this.#spawn(i);
    await this.waitHealthy(i, timeoutMs);
  }

  /** Stops every node (SIGTERM, SIGKILL after 5 s) and removes the stores. */
  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        const proc = n.proc;
        if (!proc || !this.#alive(n)) return;
        const exited = new Promise<void>((r) => proc.once("exit", () => r()));
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(t);
        n.proc = undefined;
      }),
    );
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
