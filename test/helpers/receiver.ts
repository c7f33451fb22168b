import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a Receiver got. */
export interface Received {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A local HTTP endpoint (127.0.0.1, a free port) that records every POST
 * it gets and answers `status` (200 by default). `down()` closes it (the
 * port then refuses connections) and `up()` opens it again on the same port.
 */
export class Receiver {
  readonly received: Received[] = [];
  status = 200;
  #server: Server | undefined;
  #port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hook`;
  }

  async up(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.received.push({ at: Date.now(), path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(this.status, { "content-type": "text/plain" }).end("ok");
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#port, "127.0.0.1", () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  async down(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** The parsed bodies of the requests whose signature verifies with `secret`. */
  signedBodies(secret: string): Array<Record<string, unknown>> {
    return this.received.filter((r) => verify(secret, r)).map((r) => JSON.parse(r.body) as Record<string, unknown>);
  }
}

/** Whether `X-Taskwire-Signature` is the HMAC-SHA256 of the body with `secret` — what a receiver should check. */
export function verify(secret: string, r: Received): boolean {
  const got = r.headers["x-taskwire-signature"];
  if (typeof got !== "string" || !got.startsWith("sha256=")) return false;
  const want = `sha256=${createHmac("sha256", secret).update(r.body).digest("hex")}`;
  return got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want));
}
