import assert from "node:assert/strict";
import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { injectHeaders, traceHeaders } from "../src/tracing.js";

describe("traceHeaders (a publish's trace context, or none)", () => {
  const remote = trace.setSpanContext(ROOT_CONTEXT, { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED, isRemote: true });

  it("carries a valid span's context exactly as injectHeaders writes it", () => {
    const h = traceHeaders(remote);
    assert.equal(h?.get("traceparent"), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    const ref = natsHeaders();
    injectHeaders(remote, ref);
    assert.deepEqual(h?.keys().sort(), ref.keys().sort());
  });

  it("is undefined when there is nothing the propagator would write", () => {
    assert.equal(traceHeaders(ROOT_CONTEXT), undefined);
    assert.equal(traceHeaders(trace.setSpanContext(ROOT_CONTEXT, INVALID_SPAN_CONTEXT)), undefined);
    const ref = natsHeaders();
    injectHeaders(ROOT_CONTEXT, ref);
    assert.deepEqual(ref.keys(), []);
  });

  it("writes what the propagator writes for a suppressed context (nothing)", () => {
    const suppressed = suppressTracing(remote);
    const ref = natsHeaders();
    injectHeaders(suppressed, ref);
    const h = traceHeaders(suppressed);
    assert.deepEqual(h?.keys() ?? [], ref.keys());
  });
});
