import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { findNatsServer, freePort } from "@taskwire/cli";
import { type Child, portOpen, startChild, tmpName, waitFor } from "./util.js";

export { freePort };

/** nats-server with JetStream (file store in a temp dir) and the HTTP monitoring port, for counting operations. */
export interface Nats {
  url: string;
  port: number;
  monitorPort: number;
  bin: string;
  child: Child;
  /** The JetStream store_dir (file store), for bytes on disk. */
  storeDir: string;
  /** GET a monitoring endpoint (e.g. "/jsz?streams=true"). */
  monitor<T = Record<string, unknown>>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export async function startNats(): Promise<Nats> {
  const bin = findNatsServer();
  if (!bin) throw new Error("nats-server not found; run bench/run.sh (it installs it) or set TASKWIRE_NATS_SERVER");
  const dir = tmpName("taskwire-bench-nats");
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const monitorPort = await freePort();
  const conf = join(dir, "nats.conf");
  const storeDir = join(dir, "store");
  writeFileSync(conf, `listen: "127.0.0.1:${port}"\nhttp: "127.0.0.1:${monitorPort}"\nmax_payload: 8MB\njetstream {\n  store_dir: ${JSON.stringify(storeDir)}\n}\n`);
  const child = startChild("nats-server", bin, ["-c", conf]);
  await waitFor(async () => (child.proc.exitCode !== null ? Promise.reject(new Error(child.output())) : (await portOpen(port)) && (await portOpen(monitorPort))), "nats-server", 15_000);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorPort,
    bin,
    child,
    storeDir,
    async monitor<T>(path: string): Promise<T> {
      const r = await fetch(`http://127.0.0.1:${monitorPort}${path}`);
      return (await r.json()) as T;
    },
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function findRedis(): string | undefined {
  for (const c of [process.env.REDIS_SERVER, "redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server"].filter((x): x is string => !!x)) {
    if (spawnSync(c, ["--version"]).status === 0) return c;
  }
  return undefined;
}

export interface Redis {
  port: number;
  bin: string;
  child: Child;
  stop(): Promise<void>;
}

/** redis-server with AOF on (appendonly yes, appendfsync everysec), no RDB snapshots, in a temp dir. */
export async function startRedis(): Promise<Redis> {
  const bin = findRedis();
  if (!bin) throw new Error("redis-server not found; run bench/run.sh (it installs it) or set REDIS_SERVER");
  const dir = tmpName("taskwire-bench-redis");
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child = startChild("redis-server", bin, [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--dir", dir,
    "--appendonly", "yes",
    "--appendfsync", "everysec",
    "--save", "",
    "--maxmemory-policy", "noeviction",
    "--daemonize", "no",
  ]);
  await waitFor(async () => (child.proc.exitCode !== null ? Promise.reject(new Error(child.output())) : portOpen(port)), "redis-server", 15_000);
  return {
    port,
    bin,
    child,
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
