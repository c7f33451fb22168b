import assert from "node:assert/strict";
import type { TaskRun } from "../src/api/types.js";
import { EMPTY_FILTER, filterFromParams, filterToParams, matches, type RunFilter, timeWindow, tokenBefore } from "../src/lib/filters.js";

const run = (over: Partial<TaskRun> = {}): TaskRun => ({
  id: "01a22f54-42b1-740d-9aeb-dcca0984cabf",
  task: "send-email",
  queue: "default",
  state: "RUN_STATE_FAILED",
  createdAt: "2026-12-01T10:00:00.000Z",
  options: { labels: { team: "blue", tier: "gold" } },
  ...over,
});
const f = (over: Partial<RunFilter>): RunFilter => ({ ...EMPTY_FILTER, ...over });

describe("ui: run filters", function () {
  it("round-trips through the URL, with short state names", function () {
    const filter = f({ task: "a", queue: "billing", states: ["RUN_STATE_FAILED", "RUN_STATE_AWAITING_RETRY"], label: "team=blue", range: "custom", from: Date.parse("2026-12-01T00:00:00Z"), to: Date.parse("2026-12-02T00:00:00Z") });
    const params = filterToParams(filter);
    assert.equal(params.get("states"), "failed,awaiting_retry");
    assert.deepEqual(filterFromParams(new URLSearchParams(params.toString())), filter);
  });

  it("drops unknown states and reads full enum names", function () {
    assert.deepEqual(filterFromParams(new URLSearchParams("states=failed,bogus,RUN_STATE_PENDING")).states, ["RUN_STATE_FAILED", "RUN_STATE_PENDING"]);
    assert.deepEqual(filterFromParams(new URLSearchParams("")), EMPTY_FILTER);
  });

  it("matches task, queue (absent = default), states and labels", function () {
    assert.ok(matches(run(), EMPTY_FILTER));
    assert.ok(matches(run({ queue: undefined }), f({ queue: "default" })));
    assert.ok(!matches(run(), f({ task: "other" })));
    assert.ok(matches(run(), f({ states: ["RUN_STATE_COMPLETED", "RUN_STATE_FAILED"] })));
    assert.ok(!matches(run(), f({ states: ["RUN_STATE_COMPLETED"] })));
    assert.ok(matches(run(), f({ label: "team=blue" })));
    assert.ok(matches(run(), f({ label: " tier " })), "a key alone matches any value");
    assert.ok(!matches(run(), f({ label: "team=red" })));
    assert.ok(!matches(run({ options: {} }), f({ label: "team" })));
  });

  it("matches creation time against presets and custom ranges", function () {
    const created = Date.parse("2026-12-01T10:00:00.000Z");
    assert.ok(matches(run(), f({ range: "15m" }), created + 14 * 60_000));
    assert.ok(!matches(run(), f({ range: "15m" }), created + 16 * 60_000));
    assert.deepEqual(timeWindow(f({ range: "1h" }), created), { since: created - 3_600_000, until: 0 });
    assert.ok(matches(run(), f({ range: "custom", from: created - 1, to: created })));
    assert.ok(!matches(run(), f({ range: "custom", to: created - 1 })));
  });

  it("makes a page token that starts at runs created at or before a time", function () {
    const ms = Date.parse("2026-12-01T10:00:00.000Z");
    const token = tokenBefore(ms);
    assert.match(token, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "a valid UUIDv7, as ListRuns checks");
    const idAt = (t: number, rest: string): string => {
      const hex = t.toString(16).padStart(12, "0");
      return `${hex.slice(0, 8)}-${hex.slice(8)}-${rest}`;
    };
    assert.ok(idAt(ms, "7fff-bfff-ffffffffffff") < token, "the largest id of that millisecond is listed");
    assert.ok(idAt(ms + 1, "7000-8000-000000000000") >= token, "the next millisecond is not");
  });
});
