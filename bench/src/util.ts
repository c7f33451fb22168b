import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createWriteStream, lstatSync, readdirSync, readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { createConnection } from "node:net";
import { join, resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { AckPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { CONC } from "./settings.js";

export const REPO = resolve(import.meta.dirname, "../..");
export const BENCH = resolve(import.meta.dirname, "..");

/** The one payload every system gets: the task/job argument. */
export const PAYLOAD = { user: "u-123", action: "email", n: 42 };
export const PAYLOAD_BYTES = Buffer.from(JSON.stringify(PAYLOAD));

export { wallNow } from "./clock.js";

/**
 * Added to a finish (or creation) time that its system stores truncated to
 * the millisecond — BullMQ's `finishedOn` (`Date.now()`), taskwire's
 * `finishedAt` and `createdAt` (protobuf Timestamps from a `Date`) — when
 * it is compared with a sub-ms start (`wallNow()`): truncation makes every
 * such latency 0–1 ms short, 0.5 ms on average, which is what this puts back.
 * Without it a sub-millisecond median comes out about half a millisecond
 * low, and can be negative (BullMQ's paced e2e p50 was once −0.01 ms). Both
 * systems get the same correction.
 */
export const MS_TRUNCATION = 0.5;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Pcts {
  n: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Percentiles (nearest rank) of latencies in ms. */
export function pcts(values: number[]): Pcts {
  const a = Float64Array.from(values).sort();
  const at = (q: number): number => (a.length ? a[Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1))]! : NaN);
  return { n: a.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: a.length ? a[a.length - 1]! : NaN };
}

export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 30_000, everyMs = 25): Promise<NonNullable<T>> {
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
    await sleep(everyMs);
  }
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const sock = createConnection({ host: "127.0.0.1", port }, () => {
      sock.destroy();
      res(true);
    });
    sock.on("error", () => res(false));
  });
}

/** A child process the bench started; all of them are killed at the end (also on error). */
export interface Child {
  name: string;
  proc: ChildProcess;
  output(): string;
  stop(timeoutMs?: number): Promise<void>;
}

const children = new Set<Child>();

export function startChild(name: string, cmd: string, args: string[], env: Record<string, string> = {}, cwd = REPO): Child {
  const proc = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  // TASKWIRE_BENCH_CHILD_LOGS=<dir>: every child's output also goes to <dir>/<name>.log,
  // after the wall-clock time it was started (e.g. to line up --trace-gc lines with slow runs).
  const logDir = process.env.TASKWIRE_BENCH_CHILD_LOGS;
  if (logDir) {
    const file = createWriteStream(join(logDir, `${name}.log`), { flags: "a" });
    file.write(`# ${name} started at ${new Date().toISOString()} (${Date.now()} ms since the epoch)\n`);
    proc.stdout?.pipe(file, { end: false });
    proc.stderr?.pipe(file, { end: false });
  }
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const child: Child = {
    name,
    proc,
    output: () => out,
    async stop(timeoutMs = 10_000) {
      children.delete(child);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(t);
    },
  };
  children.add(child);
  return child;
}

/** A node process running TypeScript from the workspace sources. */
export function startTsChild(name: string, script: string, args: string[], env: Record<string, string> = {}, nodeFlags: string[] = []): Child {
  return startChild(name, process.execPath, [...nodeFlags, "--conditions=taskwire-source", "--import", "tsx", script, ...args], env);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop(5_000).catch(() => {})));
}

/** Kills every child synchronously (process exit path). */
export function killAllChildrenSync(): void {
  for (const c of children) {
    try {
      c.proc.kill("SIGKILL");
    } catch {
      /* gone */
    }
  }
}

export function rssMiB(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

/** Bytes a directory takes on disk, as `du` counts them: the blocks allocated to every file and directory under it (st_blocks × 512), recursively. */
export function duBytes(dir: string): number {
  let bytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    bytes += lstatSync(p).blocks * 512;
    if (e.isDirectory()) bytes += duBytes(p);
  }
  return bytes;
}

/** CPU time (user+sys) of a process, in seconds. */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n")[0] ?? "";
}

export function machineInfo(natsBin: string, redisBin: string): Record<string, string | number> {
  const c = cpus();
  return {
    nproc: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    cpuModel: c[0]?.model ?? "unknown",
    node: process.version,
    natsServer: firstLine(natsBin, ["--version"]),
    redis: firstLine(redisBin, ["--version"]),
    os: firstLine("uname", ["-sr"]),
  };
}

/** Runs `fn` `concurrency` at a time until `count` calls are done or `maxMs` passed; returns calls done and elapsed ms. */
export async function closedLoop(concurrency: number, count: number, maxMs: number, fn: (i: number) => Promise<void>): Promise<{ done: number; ms: number }> {
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count && performance.now() < deadline) {
        const i = next++;
        await fn(i);
        done++;
      }
    }),
  );
  return { done, ms: performance.now() - t0 };
}

/**
 * Open loop: call i is due at t0 + i/rate; latency is measured from the due
 * time, so a stalled server shows as latency (no coordinated omission).
 */
/**
 * Open loop: call i is due at t0 + i/rate and its latency counts from that
 * due time, so neither the system's stalls nor the generator's are hidden.
 * The generator sleeps between sends (setTimeout, ~1 ms slack, counted as
 * latency for taskwire and its ceilings alike). `precise` yields with
 * setImmediate within 2 ms of a send instead, which removes that slack but
 * keeps one of this machine's two cores busy — taking it from the system
 * under test, so the bench does not use it (docs/performance.md, "What is
 * left").
 */
export async function openLoop(rate: number, durationMs: number, fn: (i: number) => Promise<void>, precise = false): Promise<{ lat: number[]; sent: number; errors: number; ms: number }> {
  const total = Math.floor((rate * durationMs) / 1000);
  const lat: number[] = [];
  let errors = 0;
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  let i = 0;
  while (i < total) {
    const now = performance.now();
    while (i < total && t0 + (i * 1000) / rate <= now) {
      const due = t0 + (i * 1000) / rate;
      const p = fn(i).then(
        () => void lat.push(performance.now() - due),
        () => void errors++,
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      i++;
    }
    if (i < total) {
      const wait = t0 + (i * 1000) / rate - performance.now();
      if (!precise) await sleep(Math.max(0, wait));
      else await (wait > 2 ? sleep(wait - 1) : new Promise<void>((r) => setImmediate(r)));
    }
  }
  // Bounded wait for the tail.
  await Promise.race([Promise.all(inflight), sleep(30_000)]);
  return { lat, sent: total, errors, ms: performance.now() - t0 };
}

export const round = (x: number, d = 2): number => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

export function tmpName(prefix: string): string {
  return join(process.env.TMPDIR ?? "/tmp", `${prefix}-${process.pid}-${Date.now()}`);
}

/** Machine-wide busy CPU seconds (all cores, all processes) from /proc/stat. */
export function machineBusySeconds(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - idle) / 100;
}

/** A progress line on stderr (stdout carries the table). */
export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** CPU time (user+sys) of this process (the load generator), in seconds. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** `o` with every value rounded to `d` decimals, for log lines. */
export function roundValues(o: Record<string, number>, d: number): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v, d)]));
}

/** Starts counting the CPU time of named processes; `msPer(n)` is each one's CPU ms per operation since, for n operations. */
export function cpuMeter(pids: Record<string, number>): { msPer(ops: number): Record<string, number> } {
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
  return {
    msPer: (ops) => Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ((cpuSeconds(p) - cpu0[k]!) * 1000) / ops])),
  };
}

/**
 * Context switches summed over every thread of a process (from
 * `/proc/PID/task/TID/status`): voluntary ones are a thread that blocked and
 * was woken again (a wait for I/O, a lock, a timer), involuntary ones a
 * thread preempted while it had work. A thread that exits between two
 * readings takes its counts with it.
 */
export function contextSwitches(pid: number): { voluntary: number; involuntary: number } {
  let voluntary = 0;
  let involuntary = 0;
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { voluntary: NaN, involuntary: NaN };
  }
  for (const t of tasks) {
    let st = "";
    try {
      st = readFileSync(`/proc/${pid}/task/${t}/status`, "utf8");
    } catch {
      continue; // the thread exited
    }
    voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
    involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
  }
  return { voluntary, involuntary };
}

/** What a paced phase measures of the processes under test, per operation. */
export interface PacedCosts {
  /** CPU ms per operation of each process. */
  cpuMsPerRun: Record<string, number>;
  /** Voluntary context switches per operation of each process (all its threads): how often it went to sleep and was woken. */
  wakeupsPerRun: Record<string, number>;
  /** The load generator's event-loop delay during the phase (ms): its own stalls. */
  loadGeneratorLoopDelay: { p99: number; max: number };
}

/**
 * Starts measuring a paced phase: CPU and wake-ups of `pids`, and this
 * process's event-loop delay, sampled every 10 ms (a 1 ms sampler woke the
 * load generator a thousand times a second, as often as it sent a run).
 * Both systems' paced phases use it, so they are measured alike.
 */
export function pacedMeter(pids: Record<string, number>): { stop(ops: number): PacedCosts } {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpu0 = cpuMeter(pids);
  const sw0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, contextSwitches(p).voluntary]));
  return {
    stop(ops) {
      const cpuMsPerRun = cpu0.msPer(ops);
      const wakeupsPerRun = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, (contextSwitches(p).voluntary - sw0[k]!) / ops]));
      loop.disable();
      return { cpuMsPerRun, wakeupsPerRun, loadGeneratorLoopDelay: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 } };
    },
  };
}

/**
 * Drains `count` messages of `stream` through a new durable consumer
 * `durable` (explicit acks, no pending limit), `consume({ max_messages:
 * CONC })`, acking each; gives up after `maxMs`. Resolves with how many it
 * acked and in how long, ms (the acks flushed to the server).
 */
export async function consumeAndAck(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, stream: string, durable: string, count: number, maxMs: number): Promise<{ n: number; ms: number }> {
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, max_ack_pending: -1 });
  const c = await js.consumers.get(stream, durable);
  const t0 = performance.now();
  const iter = await c.consume({ max_messages: CONC });
  let n = 0;
  const timer = setTimeout(() => iter.stop(), maxMs);
  try {
    for await (const m of iter) {
      m.ack();
      if (++n >= count) break;
    }
    await nc.flush();
    return { n, ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
    await iter.close();
  }
}
