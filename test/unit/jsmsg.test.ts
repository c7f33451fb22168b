import assert from "node:assert/strict";
import type { JsMsg } from "@nats-io/jetstream";
import { deliveryCount, storedAtMs, streamSequence } from "@taskwire/core";

/** A delivered message as far as the readers look at it: its ack subject, and nats.js' own parse of it. */
function msg(reply: string | undefined, info = { deliveryCount: -1, streamSequence: -1, timestampNanos: -1 }): JsMsg {
  return { reply, info } as unknown as JsMsg;
}

describe("JetStream delivery numbers read from the ack subject", () => {
  it("read the current form (domain and account hash)", () => {
    const m = msg("$JS.ACK._.ABCDEF.RUNS.task_add.3.1234.99.1733155200123456789.17.xyz");
    assert.equal(deliveryCount(m), 3);
    assert.equal(streamSequence(m), 1234);
    assert.equal(Math.floor(storedAtMs(m)), 1733155200123);
  });

  it("read the older form without domain and account hash", () => {
    const m = msg("$JS.ACK.RUNS.task_add.1.42.7.1733155200999000000.0");
    assert.equal(deliveryCount(m), 1);
    assert.equal(streamSequence(m), 42);
    assert.equal(Math.floor(storedAtMs(m)), 1733155200999);
  });

  it("fall back to nats.js' parse for anything else", () => {
    const info = { deliveryCount: 7, streamSequence: 8, timestampNanos: 9e6 };
    for (const reply of [undefined, "", "_INBOX.abc", "$JS.ACK.too.short", "$JS.ACK.S.C.1.2.3.4.5.6"]) {
      assert.equal(deliveryCount(msg(reply, info)), 7, String(reply));
      assert.equal(streamSequence(msg(reply, info)), 8, String(reply));
      assert.equal(storedAtMs(msg(reply, info)), 9, String(reply));
    }
    // A field that is not a number is nats.js' to read (the others still come from the subject).
    assert.equal(deliveryCount(msg("$JS.ACK.S.C.x.1.1.1.0", info)), 7);
    assert.equal(streamSequence(msg("$JS.ACK.S.C.1..1.1.0", info)), 8);
    assert.equal(streamSequence(msg("$JS.ACK.S.C.x.5.1.1.0", info)), 5);
  });
});
