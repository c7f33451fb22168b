import assert from "node:assert/strict";
import { isRunId, newRunId, runIdTime } from "../src/ids.js";

describe("run ids", function () {
  it("are valid UUIDv7, unique, and sort in creation order even within a millisecond", function () {
    const ids = Array.from({ length: 5_000 }, () => newRunId());
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.every(isRunId));
    assert.deepEqual([...ids].sort(), ids);
    assert.ok(Math.abs(runIdTime(ids[0] ?? "") - Date.now()) < 5_000);
  });
});
