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

/** The nats-server binary: TASKWIRE_NATS_SERVER, else from PATH (Debian puts it in /usr/sbin). */
export function findNatsServer(): string | undefined {
  const candidates = [process.env.TASKWIRE_NATS_SERVER, "nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"].filter((c): c is string => !!c);
  for (const c of candidates) {
    const r = spawnSync(c, ["--version"], { encoding: "utf8" });
    if (r.status === 0) return c;
  }
  return undefined;
}

export const INSTALL_HINT = "nats-server was not found. Install it with `sudo apt-get install -y nats-server` (Debian/Ubuntu), `brew install nats-server` (macOS), or run `make setup`; or set TASKWIRE_NATS_SERVER to its path.";

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
    if (!this.port) this.port = this.opts.port || (await freePort());
    mkdirSync(this.opts.storeDir, { recursive: true });
    // A config file, because nats-server 2.9 has no flag for max_payload:
    // run records carry results, so allow messages above the 1 MB default.
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
