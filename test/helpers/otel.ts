import { context as otContext, propagation, ProxyTracerProvider, type Span, type SpanOptions, type Context, trace, type Tracer, type TracerProvider } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

/**
 * One OpenTelemetry registration for the whole test process. Modules take
 * their tracers once, at import (`trace.getTracer` at module level); a
 * suite that registered its own global provider and later
 * `trace.disable()`d it left those tracers bound to a provider that was
 * shut down, and the next suite saw no spans. So the globals are registered
 * once, with a provider whose tracers look up the suite's current provider
 * on every span; suites switch it with `useTracerProvider`.
 */
const noop: TracerProvider = new ProxyTracerProvider();
let current: TracerProvider = noop;

class SwitchTracer implements Tracer {
  constructor(
    readonly name: string,
    readonly version: string | undefined,
  ) {}
  #tracer(): Tracer {
    return current.getTracer(this.name, this.version);
  }
  startSpan(name: string, options?: SpanOptions, ctx?: Context): Span {
    return this.#tracer().startSpan(name, options, ctx);
  }
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: [F] | [SpanOptions, F] | [SpanOptions, Context, F]): ReturnType<F> {
    const t = this.#tracer() as Tracer & { startActiveSpan(name: string, ...args: unknown[]): ReturnType<F> };
    return t.startActiveSpan(name, ...rest);
  }
}

let installed = false;
function install(): void {
  if (installed) return;
  installed = true;
  trace.setGlobalTracerProvider({ getTracer: (name: string, version?: string) => new SwitchTracer(name, version) });
  otContext.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

/** Makes `provider` receive every span of this process until the returned function is called. */
export function useTracerProvider(provider: TracerProvider): () => void {
  install();
  current = provider;
  return () => {
    if (current === provider) current = noop;
  };
}
