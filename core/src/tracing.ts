import { type Context, type TextMapGetter, type TextMapSetter, context as otContext } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { MsgHdrs } from "@nats-io/transport-node";

/**
 * taskwire always propagates W3C trace context across its own hops, whether
 * or not the process registered a global propagator: a broker without an
 * SDK still passes the caller's trace on to the worker. With no SDK the
 * tracer is a no-op and this costs a header copy.
 */
export const propagator = new W3CTraceContextPropagator();

const headerSetter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

const headerGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys(carrier) {
    return carrier ? carrier.keys() : [];
  },
  get(carrier, key) {
    return carrier?.get(key) || undefined;
  },
};

export function injectHeaders(ctx: Context, headers: MsgHdrs): void {
  propagator.inject(ctx, headers, headerSetter);
}

export function extractHeaders(headers: MsgHdrs | undefined, base: Context = otContext.active()): Context {
  return propagator.extract(base, headers, headerGetter);
}

/** Extracts from a bare traceparent string (as stored in TaskRun.trace_parent). */
export function extractTraceParent(traceParent: string, base: Context = otContext.active()): Context {
  if (!traceParent) return base;
  return propagator.extract(base, { traceparent: traceParent }, {
    keys: (c: Record<string, string>) => Object.keys(c),
    get: (c: Record<string, string>, k: string) => c[k],
  });
}

export function traceParentOf(ctx: Context): string {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, { set: (c, k, v) => { c[k] = v; } });
  return carrier.traceparent ?? "";
}
