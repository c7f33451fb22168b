import { type Context, createContextKey, INVALID_SPAN_CONTEXT, isSpanContextValid, ProxyTracerProvider, ROOT_CONTEXT, type Span, type SpanOptions, type TextMapGetter, type TextMapSetter, context as otContext, trace, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";

/**
 * taskwire always propagates W3C trace context across its own hops, whether
 * or not the process registered a global propagator: a broker without an
 * SDK still passes the caller's trace on to the worker. With no SDK the
 * tracer is a no-op and this costs a header copy.
 */
export const propagator = new W3CTraceContextPropagator();

/** What `trace.getTracerProvider()` delegates to while no provider is registered. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();
const PROBE = ROOT_CONTEXT.setValue(createContextKey("taskwire.tracing-probe"), true);

/**
 * Whether OpenTelemetry is set up in this process: a tracer provider or a
 * context manager registered (by the CLI's `OTEL_*` set-up or by the
 * application). With neither, every span is a no-op and no active context
 * reaches a task or a callee, so hot paths skip building spans (their
 * names, attributes, parent contexts and header reads: 2–4 % of a busy
 * worker's CPU). Asked on every call, so a provider registered later is
 * used from then on.
 */
export function tracingActive(): boolean {
  const provider = trace.getTracerProvider();
  if (!(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER) return true;
  return otContext.with(PROBE, () => otContext.active() === PROBE);
}

/** A span that records nothing and carries no trace. */
export const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** A span to make: what `withSpan` builds only when tracing is set up. */
export interface SpanSpec {
  name: string;
  options: SpanOptions;
  parent: Context;
}

/**
 * `tracer.startActiveSpan(name, options, parent, fn)` when tracing is set
 * up (`tracingActive`); otherwise no span is made and `describe` is not
 * called. `fn` then gets the span of `passOn` (a remote caller's context,
 * whose span records nothing), so `trace.setSpan(passOn, span)` is that
 * context and the caller's trace still propagates to the next hop; without
 * `passOn`, a span that records nothing.
 */
export function withSpan<T>(tracer: Tracer, describe: () => SpanSpec, fn: (span: Span) => T, passOn?: Context): T {
  if (!tracingActive()) return fn((passOn && trace.getSpan(passOn)) ?? NO_SPAN);
  const { name, options, parent } = describe();
  return tracer.startActiveSpan(name, options, parent, fn);
}

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

/**
 * `ctx`'s trace context as message headers, or undefined when it holds no
 * valid span — the W3C propagator would write nothing then, and a publish
 * without headers of its own has its preconditions encoded once (`JsWire`)
 * instead of filling a `MsgHdrs` per message.
 */
export function traceHeaders(ctx: Context): MsgHdrs | undefined {
  const sc = trace.getSpanContext(ctx);
  if (!sc || !isSpanContextValid(sc)) return undefined;
  const h = natsHeaders();
  injectHeaders(ctx, h);
  return h;
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

/** What the consumer (`process`) span of a delivered run needs from its message. */
interface ProcessedMessage {
  subject: string;
  headers?: MsgHdrs;
  info: { consumer: string };
}

/**
 * The parent context and attributes of the `process <subject>` CONSUMER
 * span of a run's attempt (OpenTelemetry messaging conventions), the same
 * for the TS worker and the broker's remote-worker sessions: the trace
 * continues from the message's headers, else from the run's trace_parent.
 */
export function processSpan(m: ProcessedMessage, run: { id: string; task: string; attempt: number; traceParent: string }): { name: string; parent: Context; attributes: Record<string, string | number> } {
  return {
    name: `process ${m.subject}`,
    parent: m.headers ? extractHeaders(m.headers) : extractTraceParent(run.traceParent),
    attributes: {
      "messaging.system": "nats",
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.destination.name": m.subject,
      "messaging.message.id": run.id,
      "messaging.consumer.group.name": m.info.consumer,
      "taskwire.task": run.task,
      "taskwire.run_id": run.id,
      "taskwire.attempt": run.attempt,
    },
  };
}
