import { join, resolve } from "node:path";
import { Broker, createLogger } from "@taskwire/broker";
import { Worker } from "@taskwire/worker";
import type { Jaeger } from "./jaeger.js";
import { loadTaskModules } from "./load.js";
import { freePort, NatsServer } from "./nats-server.js";

export interface DevOptions {
  workers: string[];
  listen: string;
  natsPort: number;
  dataDir: string;
  concurrency: number;
  /** The broker's HTTP address (UI, JSON API, /metrics); a free port when it is taken; "off": none. */
  http: string;
  /** A running Jaeger the stack exports to (`--jaeger`). */
  jaeger?: Jaeger;
}

async function portFree(port: number): Promise<boolean> {
  const { createServer } = await import("node:net");
  return new Promise((r) => {
    const s = createServer();
    s.once("error", () => r(false));
    s.listen(port, "127.0.0.1", () => s.close(() => r(true)));
  });
}

/**
 * `taskwire dev`: nats-server (store under .taskwire/), a broker and
 * optionally a worker, all stopped cleanly by Ctrl-C.
 */
export async function runDev(o: DevOptions): Promise<void> {
  const natsPort = (await portFree(o.natsPort)) ? o.natsPort : await freePort();
  const nats = new NatsServer({ port: natsPort, storeDir: resolve(join(o.dataDir, "nats")) });
  await nats.start();
  const log = createLogger("taskwire-dev", process.env.TASKWIRE_LOG_LEVEL || "warn");
  // The HTTP port moves to a free one when taken (another dev stack, the tests), like NATS's.
  const httpPort = Number(o.http.slice(o.http.lastIndexOf(":") + 1));
  const http = o.http === "off" || o.http === "" || httpPort === 0 || (await portFree(httpPort)) ? o.http : `${o.http.slice(0, o.http.lastIndexOf(":"))}:0`;
  const broker = new Broker({ listen: o.listen, natsUrl: nats.url, http, uiTraceUrl: o.jaeger ? `${o.jaeger.queryUrl}/trace/{traceId}` : undefined }, log);
  let worker: Worker | undefined;
  try {
    await broker.start();
    if (o.workers.length > 0) {
      const tasks = await loadTaskModules(o.workers);
      worker = new Worker(tasks, { natsUrl: nats.url, concurrency: o.concurrency, logger: log });
      await worker.start();
    }
  } catch (err) {
    await broker.stop().catch(() => undefined);
    await nats.stop();
    throw err;
  }
  const lines = [
    "",
    "  taskwire dev is running",
    `  broker    ${broker.address}   (export TASKWIRE_ADDRESS=${broker.address})`,
    `  nats      ${nats.url}   (nats-server ${nats.version || "?"}, store ${join(o.dataDir, "nats")})`,
    broker.httpAddress ? `  http      http://${broker.httpAddress}/   (web UI; JSON API under /v1/; /metrics)` : "  http      off",
    ...(o.jaeger
      ? [`  jaeger    ${o.jaeger.queryUrl}   (query API /api/traces; OTLP in: export OTEL_EXPORTER_OTLP_ENDPOINT=${o.jaeger.otlpHttpEndpoint} to trace your own submits)`]
      : []),
    worker ? `  worker    ${worker.workerId} serving ${[...worker.tasks.keys()].join(", ")} (concurrency ${o.concurrency})` : "  worker    none (start one with: npx taskwire worker ./tasks.ts)",
    "",
    `  try:  npx taskwire submit ${worker ? [...worker.tasks.keys()][0] : "add"} --args '[2, 3]' --wait`,
    "        npx taskwire watch",
    "  Ctrl-C stops everything.",
    "",
  ];
  console.log(lines.join("\n"));
  await new Promise<void>((resolveStop) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      console.log("\nstopping…");
      resolveStop();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await worker?.stop();
  await broker.stop();
  await nats.stop();
  console.log("stopped.");
}
