import { strict as assert } from "node:assert";
import { wallNow } from "@taskwire/bench/clock";

// The bench compares a time taken in one process with one another process
// stored from Date.now(); wallNow() must stay on Date.now()'s clock (within
// its millisecond) even where realtime and the monotonic clock part.
describe("bench clock (wallNow)", () => {
  it("stays within a millisecond of Date.now() and never runs backwards", () => {
    let prev = 0;
    const end = performance.now() + 300;
    let n = 0;
    while (performance.now() < end) {
      const before = Date.now();
      const t = wallNow();
      const after = Date.now();
      assert.ok(t >= before - 1e-9 && t < after + 1, `wallNow() ${t} outside [${before}, ${after + 1})`);
      assert.ok(t >= prev, `wallNow() ran backwards: ${prev} → ${t}`);
      prev = t;
      n++;
    }
    assert.ok(n > 1000);
  });

  it("has sub-millisecond resolution", () => {
    const seen = new Set<number>();
    const end = performance.now() + 20;
    while (performance.now() < end) seen.add(Math.floor((wallNow() % 1) * 10));
    assert.ok(seen.size >= 3, `only ${seen.size} tenths of a millisecond seen`);
  });
});
