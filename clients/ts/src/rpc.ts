import { type CallOptions, Metadata, type ServiceError } from "@grpc/grpc-js";
import { type Attributes, context as otContext, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { TaskServiceClient } from "@taskwire/protocol";
import { TaskwireError } from "./errors.js";
import { type CallRetry, withRetry } from "./retry.js";

const tracer = trace.getTracer("@taskwire/client");
// Always propagate W3C context, even when the app registered no SDK: a trace
// started upstream still reaches the broker and the worker.
const w3c = new W3CTraceContextPropagator();
export const SERVICE = "taskwire.v1.TaskService";
const metadataSetter = { set: (c: Metadata, k: string, v: string): void => c.set(k, v) };
const mapSetter = { set: (c: Record<string, string>, k: string, v: string): void => void (c[k] = v) };

/** A generated grpc-js unary method, called with `this` = the client. */
export type UnaryMethod<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/**
 * Unary calls to the broker: metadata (bearer token, W3C trace context),
 * the call's deadline, a CLIENT span per call, and gRPC errors turned into
 * TaskwireError.
 */
export class Rpc {
  /** The client span's attributes of each method (the same for every call). */
  readonly #spanAttributes = new Map<string, Attributes>();

  constructor(
    readonly raw: TaskServiceClient,
    readonly address: string,
    readonly token: string | undefined,
    readonly callTimeoutMs: number,
    /** Retries of calls that failed with UNAVAILABLE; undefined = none. */
    readonly retry?: Required<CallRetry>,
  ) {}

  /** Call metadata: the bearer token and the active trace context. */
  metadata(): Metadata {
    const md = new Metadata();
    if (this.token) md.set("authorization", `Bearer ${this.token}`);
    const active = otContext.active();
    w3c.inject(active, md, metadataSetter);
    propagation.inject(active, md, metadataSetter);
    return md;
  }

  /**
   * A unary call that may be sent again: retried on UNAVAILABLE (and, when
   * `keyed` — a Submit with an idempotency key — on the broker's documented
   * retryable ABORTED) with backoff, all attempts within one deadline.
   */
  retried<Req, Res>(method: string, call: UnaryMethod<Req, Res>, req: Req, keyed = false, extraMs = 0): Promise<Res> {
    const deadline = Date.now() + this.callTimeoutMs + extraMs;
    return withRetry(this.retry, deadline, keyed, () => this.unary(method, call, req, extraMs, deadline));
  }

  #attributes(method: string): Attributes {
    let attributes = this.#spanAttributes.get(method);
    if (!attributes) this.#spanAttributes.set(method, (attributes = { "rpc.system": "grpc", "rpc.service": SERVICE, "rpc.method": method, "server.address": this.address }));
    return attributes;
  }

  /**
   * A CLIENT span named as the unary call `method` (in the active context)
   * for work that travels another way — a SubmitStream message — and the
   * W3C trace context to carry with it; `end(code, message)` ends the span
   * with the answer's gRPC status.
   */
  clientSpan(method: string): { traceContext: Record<string, string>; end(code: number, message?: string): void } {
    const span = tracer.startSpan(`${SERVICE}/${method}`, { kind: SpanKind.CLIENT, attributes: this.#attributes(method) });
    const ctx = trace.setSpan(otContext.active(), span);
    const traceContext: Record<string, string> = {};
    w3c.inject(ctx, traceContext, mapSetter);
    propagation.inject(ctx, traceContext, mapSetter);
    return {
      traceContext,
      end(code, message) {
        span.setAttribute("rpc.grpc.status_code", code);
        if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message });
        span.end();
      },
    };
  }

  /** One unary call with the client's deadline (plus `extraMs`, e.g. a GetStatus wait). */
  unary<Req, Res>(method: string, call: UnaryMethod<Req, Res>, req: Req, extraMs = 0, deadlineMs?: number): Promise<Res> {
    const attributes = this.#attributes(method);
    return tracer.startActiveSpan(
      `${SERVICE}/${method}`,
      { kind: SpanKind.CLIENT, attributes },
      (span) =>
        new Promise<Res>((resolve, reject) => {
          const deadline = new Date(deadlineMs ?? Date.now() + this.callTimeoutMs + extraMs);
          call.call(this.raw, req, this.metadata(), { deadline }, (err, res) => {
            if (err) {
              span.setStatus({ code: SpanStatusCode.ERROR, message: err.details });
              span.setAttribute("rpc.grpc.status_code", err.code);
              span.end();
              reject(TaskwireError.from(err));
            } else {
              span.setAttribute("rpc.grpc.status_code", 0);
              span.end();
              resolve(res);
            }
          });
        }),
    );
  }
}
