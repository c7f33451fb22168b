// The reconciler's compact bookkeeping: times kept as small integers after a
// time base that moves forward, and the record state read without decoding.
import assert from "node:assert/strict";
import { encodeRun, RunState, TaskRun } from "@taskwire/protocol";
import { earliestDue, peekState, REBASE_MS, rebaseTimes, relativeTime } from "../src/reconciler.js";

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

  describe("earliestDue (the runs a pass looks at)", function () {
    /** A small deterministic generator (mulberry32), so a failure repeats. */
    function random(seed: number): () => number {
      let a = seed;
      return () => {
        a = (a + 0x6d2b79f5) | 0;
        let t = Math.imul(a ^ (a >>> 15), 1 | a);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    it("picks the k due soonest, soonest first, and counts every due entry, as a full sort would", function () {
      for (let seed = 1; seed <= 200; seed++) {
        const rnd = random(seed);
        const n = Math.floor(rnd() * 400);
        const k = Math.floor(rnd() * 50);
        const dueBy = Math.floor(rnd() * 1_000);
        const entries = new Map<string, { due: number }>();
        // Repeated due times too (a coarse range), so ties are exercised.
        for (let i = 0; i < n; i++) entries.set(`run-${i}`, { due: Math.floor(rnd() * 100) * 20 - 500 });
        const expected = [...entries].filter(([, e]) => e.due <= dueBy).sort((a, b) => a[1].due - b[1].due);
        const { earliest, due } = earliestDue(entries, dueBy, k);
        assert.equal(due, expected.length, `seed ${seed}: count`);
        assert.deepEqual(earliest.map(([, e]) => e.due), expected.slice(0, k).map(([, e]) => e.due), `seed ${seed}: due times`);
        for (const [key, e] of earliest) assert.equal(entries.get(key), e, `seed ${seed}: ${key} paired with its own entry`);
        assert.equal(new Set(earliest.map(([key]) => key)).size, earliest.length, `seed ${seed}: no entry twice`);
      }
    });

    it("returns nothing when nothing is due, or when k is 0 (still counting)", function () {
      const entries = new Map([["a", { due: 10 }], ["b", { due: 20 }]]);
      assert.deepEqual(earliestDue(entries, 5, 10), { earliest: [], due: 0 });
      assert.deepEqual(earliestDue(entries, 30, 0), { earliest: [], due: 2 });
    });
  });
});
