import { HttpServer, opsHandler, type Readiness } from "@taskwire/core";
import type { Logger } from "pino";
import type { BrokerMetrics } from "../metrics.js";
import { type ApiDeps, apiHandler } from "./api.js";
import { uiHandler } from "./ui.js";

export interface BrokerHttpOptions {
  /** host:port to listen on. */
  listen: string;
  /** True when `listen` is a loopback address. */
  loopback: boolean;
  /** The broker's TASKWIRE_MAX_PAYLOAD_BYTES: the body limit follows it. */
  maxPayloadBytes: number;
  /** Trace URL template for the UI (`{traceId}`). */
  traceUrl: string;
  /** Where the built UI is. @default broker/ui-dist */
  uiDir?: string;
  metrics: BrokerMetrics;
  log: Logger;
  readiness(): Readiness;
  /** The JSON API's dependencies; undefined while the broker starts. */
  api(): ApiDeps | undefined;
}

/**
 * Largest JSON body, in bytes: what gRPC accepts (the larger of 4 MiB and
 * 4 × the payload limit + 1 MiB), grown by a third for base64.
 */
export function maxBodyBytes(maxPayloadBytes: number): number {
  const grpc = Math.max(4 * 1024 * 1024, maxPayloadBytes * 4 + 1024 * 1024);
  return Math.ceil((grpc * 4) / 3) + 64 * 1024;
}

/**
 * The broker's HTTP port: `/metrics`, `/healthz`, `/readyz`, the JSON API
 * under `/v1/` (docs/http-api.md) and the web UI (`/`, `/ui/`).
 */
export function startBrokerHttp(o: BrokerHttpOptions): Promise<HttpServer> {
  return HttpServer.listen(
    o.listen,
    [opsHandler(o.metrics.registry, o.readiness), apiHandler(o.api, { maxBodyBytes: maxBodyBytes(o.maxPayloadBytes), loopback: o.loopback, metrics: o.metrics, log: o.log }), uiHandler({ dir: o.uiDir, traceUrl: o.traceUrl })],
    "--http / TASKWIRE_HTTP_LISTEN",
    (err, req) => o.log.warn({ err, url: req.url }, "HTTP request failed"),
  );
}
