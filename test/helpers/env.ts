import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { Broker } from "@taskwire/broker";
import { Client } from "@taskwire/client";
import { Worker, type AnyTask, type WorkerOptions } from "@taskwire/worker";
import { pino } from "pino";
import { freePort, NatsServer } from "@taskwire/cli";
import "./nats-bin.js";

export const REPO = resolve(import.meta.dirname, "../..");
export const silent = pino({ level: process.env.TASKWIRE_TEST_LOG ?? "silent" });

/** A unique suffix for task names, so tests sharing a server never see each other's runs. */
export function uniq(prefix = "t"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/** Polls `fn` until it returns a truthy value; never a fixed sleep. */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 15_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A nats-server on a free port with a temporary store; removed on stop(). */
/** A nats-server on a free port with a temporary store; `extraConfig` is appended to its config (auth, accounts, TLS). */
export async function startNats(extraConfig?: string): Promise<NatsServer & { cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "taskwire-test-"));
  const server = new NatsServer({ storeDir: join(dir, "store"), extraConfig });
  await server.start();
  return Object.assign(server, {
    async cleanup() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

export async function startBroker(natsUrl: string, extra: Partial<ConstructorParameters<typeof Broker>[0]> = {}): Promise<Broker> {
  const b = new Broker({ listen: "127.0.0.1:0", http: "127.0.0.1:0", natsUrl, shutdownGraceMs: 2_000, ...extra }, silent);
  await b.start();
  return b;
}

export async function startWorker(natsUrl: string, tasks: AnyTask[], opts: WorkerOptions = {}): Promise<Worker> {
  const w = new Worker(tasks, { natsUrl, heartbeatMs: 500, shutdownGraceMs: 2_000, handleSignals: false, logger: silent, ...opts });
  await w.start();
  return w;
}

export function clientFor(address: string): Client {
  return new Client({ address });
}

/** A taskwire CLI process running from the TypeScript sources (no build needed). */
export interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnCli(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ["--conditions=taskwire-source", "--import", "tsx", join(REPO, "cli/src/main.ts"), ...args], {
    cwd: REPO,
    // HTTP on a free port: brokers started side by side must not all take 8050.
    env: { ...process.env, TASKWIRE_LOG_LEVEL: "info", TASKWIRE_HTTP_LISTEN: "127.0.0.1:0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    child,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export { freePort };
