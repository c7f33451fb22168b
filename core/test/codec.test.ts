import assert from "node:assert/strict";
import { TaskRun } from "@taskwire/client/gen";
import { decodeRunMessage, encodeRun, encodeRunMessage, wrapRunMessage } from "../src/codec.js";

describe("codec", function () {
  it("wrapRunMessage(encodeRun(run)) is byte for byte encodeRunMessage(run), for every length-prefix size", function () {
    // Argument sizes put the encoded run on both sides of the 1-, 2- and
    // 3-byte varint length boundaries (128, 16384).
    for (const size of [0, 1, 60, 100, 127, 200, 16_300, 16_400, 70_000]) {
      const run = TaskRun.fromPartial({ id: `r-${size}`, task: "t", args: { contentType: "application/json", data: Buffer.alloc(size, 7) }, createdAt: new Date(1_700_000_000_123) });
      const wrapped = wrapRunMessage(encodeRun(run));
      assert.deepEqual(Buffer.from(wrapped), Buffer.from(encodeRunMessage(run)), `size ${size}`);
      assert.equal(decodeRunMessage(wrapped)?.id, run.id);
    }
  });
});
