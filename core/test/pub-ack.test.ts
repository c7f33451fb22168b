import assert from "node:assert/strict";
import type { Msg } from "@nats-io/transport-node";
import { fastPubAck } from "../src/wire.js";

const enc = new TextEncoder();
const answer = (json: string, headers?: unknown): Msg => ({ data: enc.encode(json), headers }) as unknown as Msg;

describe("publish answers read from their bytes (fastPubAck)", function () {
  it("reads what JSON.parse reads from the common answers", function () {
    for (const json of ['{"stream":"KV_runs","seq":1}', '{"stream":"KV_runs","seq":123456789012345}', '{"stream":"RUNS","seq":42,"duplicate":true}', '{"stream":"a-b_c","seq":7}']) {
      const v = JSON.parse(json) as { stream: string; seq: number; duplicate?: boolean };
      assert.deepEqual(fastPubAck(answer(json)), { stream: v.stream, seq: v.seq, duplicate: v.duplicate === true }, json);
    }
    // The stream name kept from the answer before is still the right one after another.
    assert.equal(fastPubAck(answer('{"stream":"OTHER","seq":3}'))?.stream, "OTHER");
    assert.equal(fastPubAck(answer('{"stream":"KV_runs","seq":4}'))?.stream, "KV_runs");
  });

  it("leaves everything else to the JSON path", function () {
    for (const json of [
      '{"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"},"stream":"","seq":0}',
      '{"stream":"KV_runs","seq":12,"domain":"hub"}',
      '{"stream":"KV_runs","seq":12,"duplicate":false}',
      '{"stream":"KV_runs","seq":}',
      '{"stream":"KV_runs","seq":1234567890123456}',
      '{"stream":"","seq":1}',
      '{"stream":"K\\"V","seq":1}',
      '{"stream":"Ünï","seq":1}',
      '{"stream":"KV_runs","seq":1} ',
      '{"stream":"KV_runs","seq":1',
      "",
    ]) {
      assert.equal(fastPubAck(answer(json)), undefined, json);
    }
    // An answer with headers (no responders, a status) is never a plain ack.
    assert.equal(fastPubAck(answer('{"stream":"KV_runs","seq":1}', { code: 503 })), undefined);
  });
});
