import assert from "node:assert/strict";
import { formatAgo, formatDuration, shortId, stateLabel } from "../src/lib/format.js";
import { showPayload } from "../src/lib/payload.js";
import { traceIdOf, traceUrl } from "../src/lib/trace.js";

describe("ui: formatting, payloads and trace links", function () {
  it("formats durations, ages, states and ids", function () {
    assert.equal(formatDuration(850), "850 ms");
    assert.equal(formatDuration(12_300), "12.3 s");
    assert.equal(formatDuration(125_000), "2 min 5 s");
    assert.equal(formatDuration(3 * 86_400_000), "3 d 0 h");
    assert.equal(formatAgo(1_000, 6_000), "5.00 s ago");
    assert.equal(formatAgo(61_000, 1_000), "in 1 min 0 s");
    assert.equal(stateLabel("RUN_STATE_AWAITING_RETRY"), "awaiting retry");
    assert.equal(shortId("01a22f54-42b1-740d-9aeb-dcca0984cabf"), "01a22f54…cabf");
  });

  it("shows JSON pretty, text as it is, and binary as a size", function () {
    const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString("base64");
    assert.deepEqual(showPayload({ data: b64('[1,{"a":2}]') }), { kind: "json", text: '[\n  1,\n  {\n    "a": 2\n  }\n]', contentType: "application/json", bytes: 11 });
    assert.equal(showPayload({ contentType: "text/plain", data: b64("héllo") }).text, "héllo");
    assert.deepEqual(showPayload({ contentType: "application/octet-stream", data: b64(new Uint8Array([0xff, 0xfe, 0x00])) }).kind, "binary");
    assert.equal(showPayload(undefined).kind, "empty");
  });

  it("links a traceparent to its trace", function () {
    const tp = "00-ec61ef953229f51dadf2dee78fb7e420-f992f12c9cdb99fd-01";
    assert.equal(traceIdOf(tp), "ec61ef953229f51dadf2dee78fb7e420");
    assert.equal(traceUrl("http://jaeger:16686/trace/{traceId}", tp), "http://jaeger:16686/trace/ec61ef953229f51dadf2dee78fb7e420");
    assert.equal(traceUrl("", tp), "");
    assert.equal(traceUrl("http://j/{traceId}", "00-00000000000000000000000000000000-f992f12c9cdb99fd-01"), "", "an all-zero trace id is no trace");
    assert.equal(traceIdOf("garbage"), "");
  });
});
