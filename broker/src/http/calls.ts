import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Writable } from "node:stream";
import { type Deadline, Metadata, type ServerUnaryCall, type ServerWritableStream, status as Status } from "@grpc/grpc-js";

/**
 * grpc-js call objects made from an HTTP request, so the JSON API runs the
 * very handlers gRPC runs (validation, auth, namespaces, tracing, error
 * mapping, metrics): the handler sees the HTTP `Authorization`,
 * `traceparent` and `tracestate` headers as the call's metadata, the
 * client's address as its peer, and a client that goes away as a
 * cancelled call.
 */

/** The metadata a gRPC client would have sent: the headers the handlers read. */
function metadataOf(req: IncomingMessage): Metadata {
  const md = new Metadata();
  for (const h of ["authorization", "traceparent", "tracestate", "user-agent"]) {
    const v = req.headers[h];
    if (typeof v === "string" && v.length > 0) md.set(h, v);
  }
  return md;
}

/** What every call answers about itself: grpc-js's ServerSurfaceCall, less the ORCA metrics recorder, which nothing here uses. */
function surfaceOf(req: IncomingMessage, path: string) {
  const s = req.socket;
  const peer = s.remoteFamily === "IPv6" ? `[${s.remoteAddress ?? ""}]:${s.remotePort ?? 0}` : `${s.remoteAddress ?? ""}:${s.remotePort ?? 0}`;
  const host = req.headers.host ?? "";
  return {
    cancelled: false,
    metadata: metadataOf(req),
    getPeer: (): string => peer,
    sendMetadata: (): void => undefined,
    // HTTP has no deadline header here: a waiting GetStatus waits its wait_timeout_ms.
    getDeadline: (): Deadline => Number.POSITIVE_INFINITY,
    getPath: (): string => path,
    getHost: (): string => host,
    // No TLS peer certificate over this port (grpc-js's AuthContext, which it does not export).
    getAuthContext: (): Record<string, never> => ({}),
  };
}

/** Emits "cancelled" on `call` when the HTTP client goes away before the answer is complete. */
function cancelWhenGone(res: ServerResponse, call: EventEmitter & { cancelled: boolean }): void {
  res.once("close", () => {
    if (res.writableFinished) return;
    call.cancelled = true;
    call.emit("cancelled");
  });
}

/** A unary call: `request` is the decoded request message. */
export function unaryCall<Req, Res>(req: IncomingMessage, res: ServerResponse, path: string, request: Req): ServerUnaryCall<Req, Res> {
  const call = Object.assign(new EventEmitter(), surfaceOf(req, path), { request });
  cancelWhenGone(res, call);
  // The one cast: getMetricsRecorder returns a class grpc-js does not export (and no handler calls).
  return call as unknown as ServerUnaryCall<Req, Res>;
}

/**
 * A server-streaming call whose writes go to `onMessage` (the SSE writer),
 * with back-pressure from the HTTP response: a write returns false while
 * the socket's buffer is full and "drain" follows, as on a gRPC stream.
 * `end()` emits "finish"; a handler's error status arrives as an "error"
 * event (grpc-js's convention).
 */
export function streamingCall<Req, Res>(req: IncomingMessage, res: ServerResponse, path: string, request: Req, onMessage: (m: Res) => boolean): ServerWritableStream<Req, Res> {
  const w = new Writable({
    objectMode: true,
    highWaterMark: 16,
    write(chunk: Res, _enc, cb) {
      if (onMessage(chunk)) cb();
      else res.once("drain", () => cb());
    },
  });
  const call = Object.assign(w, surfaceOf(req, path), { request });
  cancelWhenGone(res, call);
  // A cancelled call takes no more writes, as on grpc-js.
  call.once("cancelled", () => call.destroy());
  return call as unknown as ServerWritableStream<Req, Res>;
}

/** The gRPC status a handler ended a call with. */
export function statusOfError(e: unknown): { code: number; message: string } {
  const s = (e ?? {}) as { code?: number; details?: string; message?: string };
  return { code: typeof s.code === "number" ? s.code : Status.UNKNOWN, message: s.details || s.message || String(e) };
}
