// The reconciler's compact bookkeeping: times kept as small integers after a
// time base that moves forward, and the record state read without decoding.
import assert from "node:assert/strict";
import { encodeRun, RunState, TaskRun } from "@taskwire/protocol";
import { peekState, REBASE_MS, rebaseTimes, relativeTime } from "../src/reconciler.js";

describe("reconciler bookkeeping", function () {
  const base = Date.UTC(2026, 11, 1);

  it("keeps times relative to the base, clamped to ±REBASE_MS (small integers)", function () {
    assert.equal(relativeTime(base + 1_500, base), 1_500);
    assert.equal(relativeTime(base - 600_000, base), -600_000);
    assert.equal(relativeTime(base + 10 * REBASE_MS, base), REBASE_MS);
    assert.equal(relativeTime(base - 10 * REBASE_MS, base), -REBASE_MS);
    assert.ok(REBASE_MS < 2 ** 30, "within V8's small-integer range");
  });

  it("moves the base and every entry's times once the base is REBASE_MS old, and not before", function () {
    const entries = [
      { at: 1_000, due: 5_000 },
      { at: -REBASE_MS + 10, due: REBASE_MS - 1 },
    ];
    assert.equal(rebaseTimes(entries, base, base + REBASE_MS - 1), base, "not yet");
    assert.deepEqual(entries[0], { at: 1_000, due: 5_000 });
    const now = base + REBASE_MS + 7;
    assert.equal(rebaseTimes(entries, base, now), now);
    // Same absolute times where they fit, clamped where they would not.
    assert.deepEqual(entries[0], { at: 1_000 - REBASE_MS - 7, due: 5_000 - REBASE_MS - 7 });
    assert.deepEqual(entries[1], { at: -REBASE_MS, due: -8 });
    assert.equal(entries[0]!.due + now, base + 5_000);
  });

  it("reads a record's state without decoding it", function () {
    for (const state of [RunState.RUN_STATE_PENDING, RunState.RUN_STATE_RUNNING, RunState.RUN_STATE_COMPLETED]) {
      const data = encodeRun(TaskRun.fromPartial({ id: "01a2b3c4-0000-7000-8000-000000000000", task: "t", state, args: { contentType: "application/json", data: Buffer.from("[1]") } }));
      assert.equal(peekState(data), state);
    }
    assert.equal(peekState(new Uint8Array(0)), 0);
  });
});
