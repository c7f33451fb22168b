// `tracingActive` and `withSpan`: the no-span fast path is taken only when
// OpenTelemetry is not set up, and it keeps propagating the caller's trace.
// Each case runs in a fresh Node process: the test process registers its
// own global tracer provider (test/helpers/otel.ts) once and for good.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Runs `body` (an ES module's statements) in a fresh Node with the sources loaded, and returns what it printed. */
async function fresh(body: string): Promise<string> {
  const { stdout } = await run(process.execPath, ["--conditions=taskwire-source", "--import=tsx", "--input-type=module", "-e", body], { timeout: 30_000 });
  return stdout.trim();
}

const PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

describe("tracingActive / withSpan", function () {
  this.timeout(60_000);

  it("is off with nothing registered, and then runs fn with the caller's span so the trace still propagates", async () => {
    const out = await fresh(`
      import { trace, ROOT_CONTEXT, SpanKind } from "@opentelemetry/api";
      import { tracingActive, withSpan, extractTraceParent, traceParentOf } from "@taskwire/core";
      const tracer = trace.getTracer("t");
      let described = 0;
      const parent = extractTraceParent(${JSON.stringify(PARENT)}, ROOT_CONTEXT);
      const tp = withSpan(tracer, () => { described++; return { name: "x", options: { kind: SpanKind.SERVER }, parent }; }, (span) => traceParentOf(trace.setSpan(parent, span)), parent);
      const none = withSpan(tracer, () => { described++; return { name: "y", options: {}, parent: ROOT_CONTEXT }; }, (span) => traceParentOf(trace.setSpan(ROOT_CONTEXT, span)));
      console.log(JSON.stringify({ active: tracingActive(), tp, none, described }));
    `);
    assert.deepEqual(JSON.parse(out), { active: false, tp: PARENT, none: "", described: 0 });
  });

  it("is on once a tracer provider is registered, and withSpan then makes a child span of the caller's", async () => {
    const out = await fresh(`
      import { trace, ROOT_CONTEXT } from "@opentelemetry/api";
      import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
      import { tracingActive, withSpan, extractTraceParent } from "@taskwire/core";
      const before = tracingActive();
      const exporter = new InMemorySpanExporter();
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
      const parent = extractTraceParent(${JSON.stringify(PARENT)}, ROOT_CONTEXT);
      withSpan(trace.getTracer("t"), () => ({ name: "child", options: {}, parent }), (span) => span.end(), parent);
      const [s] = exporter.getFinishedSpans();
      console.log(JSON.stringify({ before, after: tracingActive(), name: s?.name, traceId: s?.spanContext().traceId, parent: s?.parentSpanContext?.spanId }));
    `);
    assert.deepEqual(JSON.parse(out), { before: false, after: true, name: "child", traceId: "0af7651916cd43dd8448eb211c80319c", parent: "b7ad6b7169203331" });
  });

  it("is on with only a context manager registered (the active context must reach the task)", async () => {
    const out = await fresh(`
      import { context } from "@opentelemetry/api";
      import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
      import { tracingActive } from "@taskwire/core";
      const before = tracingActive();
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      console.log(JSON.stringify({ before, after: tracingActive() }));
    `);
    assert.deepEqual(JSON.parse(out), { before: false, after: true });
  });
});
