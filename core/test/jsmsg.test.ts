import assert from "node:assert/strict";
import type { JsMsg } from "@nats-io/jetstream";
import { deliveryCount } from "../src/jsmsg.js";

/** A delivered message as far as deliveryCount looks at it: its ack subject, and nats.js' own parse of it. */
function msg(reply: string | undefined, info = { deliveryCount: -1 }): JsMsg {
  return { reply, info } as unknown as JsMsg;
}

describe("a message's delivery count read from its ack subject", () => {
  it("reads the current form (domain and account hash) and the older one", () => {
    assert.equal(deliveryCount(msg("$JS.ACK._.ABCDEF.RUNS.task_add.3.1234.99.1733155200123456789.17.xyz")), 3);
    assert.equal(deliveryCount(msg("$JS.ACK._.ABCDEF.RUNS.task_add.12.1234.99.1733155200123456789.17")), 12);
    assert.equal(deliveryCount(msg("$JS.ACK.RUNS.task_add.1.42.7.1733155200999000000.0")), 1);
  });

  it("leaves anything else to nats.js' parse", () => {
    for (const reply of [undefined, "", "_INBOX.abc", "$JS.ACK.too.short", "$JS.ACK.S.C.1.2.3.4.5.6", "$JS.ACK.S.C.x.1.1.1.0", "$JS.ACK.S.C..1.1.1.0", "$JS.ACK.S.C.1e3.1.1.1.0"]) {
      assert.equal(deliveryCount(msg(reply, { deliveryCount: 7 })), 7, String(reply));
    }
  });
});
