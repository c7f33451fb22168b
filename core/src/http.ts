import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Registry } from "prom-client";
import { processRegistry } from "./metrics.js";

/**
 * The HTTP side of every taskwire process: `/metrics`, `/healthz` and
 * `/readyz` (and, on the broker, its JSON API and UI). node:http and a
 * list of handlers; no framework.
 */

/** Handles a request and returns true, or returns false to let the next handler try. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** Whether a process can do its work now (`/readyz`). */
export interface Readiness {
  ready: boolean;
  /** Each check by name: true when it passes. */
  checks: Record<string, boolean>;
}

/** Writes a JSON body with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The request's path, without the query string. */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

/**
 * `/metrics` (Prometheus text format from `registry`, then Node's process
 * metrics), `/healthz` (200
 * while the process runs: a liveness probe) and `/readyz` (200 when every
 * check of `readiness()` passes, else 503 naming the failing ones: a
 * readiness probe).
 */
export function opsHandler(registry: Registry, readiness: () => Readiness): HttpHandler {
  const nodeRegistry = processRegistry();
  return async (req, res) => {
    const path = pathOf(req);
    if (path !== "/metrics" && path !== "/healthz" && path !== "/readyz") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendJson(res, 405, { code: 12, message: `${path} answers GET only` }, { allow: "GET, HEAD" });
      return true;
    }
    if (path === "/metrics") {
      const [own, node] = await Promise.all([registry.metrics(), nodeRegistry.metrics()]);
      const text = `${own}${own.endsWith("\n") || own === "" ? "" : "\n"}${node}`;
      res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : text);
    } else if (path === "/healthz") {
      sendJson(res, 200, { status: "ok" });
    } else {
      const r = readiness();
      const failing = Object.entries(r.checks)
        .filter(([, ok]) => !ok)
        .map(([name]) => name);
      sendJson(res, r.ready ? 200 : 503, { ready: r.ready, checks: r.checks, ...(failing.length > 0 ? { failing } : {}) });
    }
    return true;
  };
}

/** Splits "host:port" (IPv6 in brackets) into its parts. */
function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(listen.slice(i + 1)) };
}

/**
 * An HTTP server on `listen` that tries `handlers` in order for each
 * request; none → 404. A handler that throws answers 500 (its request
 * only). `setting` names the flag/variable in the "address in use" error.
 */
export class HttpServer {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #address = "";

  private constructor(server: Server) {
    this.#server = server;
  }

  static async listen(listen: string, handlers: readonly HttpHandler[], setting: string, onError?: (err: unknown, req: IncomingMessage) => void): Promise<HttpServer> {
    const server = createServer((req, res) => {
      void (async () => {
        try {
          for (const h of handlers) if (await h(req, res)) return;
          sendJson(res, 404, { code: 5, message: `no route for ${req.method ?? "GET"} ${pathOf(req)}: this port serves /metrics, /healthz, /readyz${handlers.length > 1 ? ", the JSON API under /v1/ (docs/http-api.md) and the UI" : ""}` });
        } catch (err) {
          onError?.(err, req);
          if (!res.headersSent) sendJson(res, 500, { code: 13, message: `internal error: ${err instanceof Error ? err.message : String(err)}` });
          else res.destroy();
        }
      })();
    });
    // Slow or idle clients must not hold sockets for ever (Slowloris); long
    // responses (server-sent events) are not limited by these.
    server.headersTimeout = 20_000;
    server.requestTimeout = 60_000;
    server.keepAliveTimeout = 5_000;
    const s = new HttpServer(server);
    server.on("connection", (sock: Socket) => {
      s.#sockets.add(sock);
      sock.once("close", () => s.#sockets.delete(sock));
    });
    const { host, port } = splitHostPort(listen);
    await new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException): void => {
        reject(err.code === "EADDRINUSE" ? new Error(`cannot serve HTTP on ${listen}: the address is in use; stop the process using it or pick another with ${setting} (off turns it off)`, { cause: err }) : err);
      };
      server.once("error", fail);
      server.listen(port, host, () => {
        server.off("error", fail);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    s.#address = `${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
    return s;
  }

  /** The bound address, `host:port` (the real port when listening on port 0). */
  get address(): string {
    return this.#address;
  }

  /** Stops accepting connections, gives open requests up to `graceMs`, then closes what is left. */
  async close(graceMs = 1_000): Promise<void> {
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    this.#server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (const sock of this.#sockets) sock.destroy();
    await closed;
  }
}
