import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./nats-server.js";

/**
 * The jaeger binary: TASKWIRE_JAEGER, else `.tools/bin/jaeger` of the
 * current directory or of the repository this CLI runs from (where `make
 * setup` builds it), else `jaeger` on PATH.
 */
export function findJaeger(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [process.env.TASKWIRE_JAEGER, join(process.cwd(), ".tools/bin/jaeger"), resolve(here, "../../.tools/bin/jaeger")].filter((c): c is string => !!c && existsSync(c));
  candidates.push("jaeger");
  for (const c of candidates) {
    const r = spawnSync(c, ["--help"], { encoding: "utf8" });
    if (r.status === 0 && /Jaeger/i.test(`${r.stdout}${r.stderr}`)) return c;
  }
  return undefined;
}

export const JAEGER_INSTALL_HINT =
  "jaeger was not found. Run `make setup` (it builds Jaeger v1.76 into .tools/bin with Go), or `go install github.com/jaegertracing/jaeger/cmd/jaeger@v1.76.0` and put it on PATH, or set TASKWIRE_JAEGER to its path; or run Jaeger all-in-one elsewhere and set OTEL_EXPORTER_OTLP_ENDPOINT.";

/**
 * The configuration of a Jaeger v2 binary (an OpenTelemetry collector
 * distribution) with in-memory storage: OTLP in over gRPC and HTTP, the
 * query API (and UI, where its assets are built in) out, all on 127.0.0.1.
 */
function config(p: { otlpGrpc: number; otlpHttp: number; query: number; queryGrpc: number }): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${p.query}
    grpc:
      endpoint: 127.0.0.1:${p.queryGrpc}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${p.otlpGrpc}
      http:
        endpoint: 127.0.0.1:${p.otlpHttp}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/**
 * Jaeger as a child process on free ports of 127.0.0.1, traces kept in
 * memory: for `taskwire dev --jaeger` and the tests. `otlpHttpEndpoint` is
 * what OTEL_EXPORTER_OTLP_ENDPOINT takes; `queryUrl` serves `/api/traces`
 * (and the UI, `/trace/<id>`, in builds that include it).
 */
export class Jaeger {
  #proc: ChildProcess | undefined;
  #dir: string | undefined;
  #out = "";
  ports = { otlpGrpc: 0, otlpHttp: 0, query: 0, queryGrpc: 0 };

  get otlpHttpEndpoint(): string {
    return `http://127.0.0.1:${this.ports.otlpHttp}`;
  }

  get otlpGrpcEndpoint(): string {
    return `http://127.0.0.1:${this.ports.otlpGrpc}`;
  }

  get queryUrl(): string {
    return `http://127.0.0.1:${this.ports.query}`;
  }

  /** What Jaeger printed (for error messages). */
  output(): string {
    return this.#out;
  }

  async start(timeoutMs = 30_000): Promise<this> {
    const bin = findJaeger();
    if (!bin) throw new Error(JAEGER_INSTALL_HINT);
    this.ports = { otlpGrpc: await freePort(), otlpHttp: await freePort(), query: await freePort(), queryGrpc: await freePort() };
    this.#dir = mkdtempSync(join(tmpdir(), "taskwire-jaeger-"));
    const file = join(this.#dir, "jaeger.yaml");
    writeFileSync(file, config(this.ports));
    const proc = spawn(bin, [`--config=file:${file}`], { stdio: ["ignore", "pipe", "pipe"] });
    this.#proc = proc;
    proc.stdout?.on("data", (d: Buffer) => (this.#out += d.toString()));
    proc.stderr?.on("data", (d: Buffer) => (this.#out += d.toString()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`jaeger exited (${proc.exitCode}) before it was ready:\n${this.#out}`);
      try {
        const res = await fetch(`${this.queryUrl}/api/services`);
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`jaeger did not answer on ${this.queryUrl} within ${timeoutMs} ms:\n${this.#out}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return this;
  }

  async stop(): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      const timer = setTimeout(() => p.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}
