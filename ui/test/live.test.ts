import assert from "node:assert/strict";
import type { RunEvent, TaskRun } from "../src/api/types.js";
import { EMPTY_FILTER } from "../src/lib/filters.js";
import { applyEvents, type LiveContext, MAX_LIVE_ROWS } from "../src/pages/runs-live.js";

const id = (n: number): string => `01a22f54-0000-7000-8000-${n.toString(16).padStart(12, "0")}`;
const run = (n: number, revision: number, over: Partial<TaskRun> = {}): TaskRun => ({ id: id(n), task: "t", state: "RUN_STATE_PENDING", revision, ...over });
const ev = (r: TaskRun): RunEvent => ({ cursor: String(r.revision), runId: r.id, run: r });
const ctx: LiveContext = { filter: EMPTY_FILTER, acceptNew: true, hasNext: false };

describe("ui: live rows of the runs list", function () {
  it("updates a shown run to a newer revision only", function () {
    const rows = { rows: [run(2, 10), run(1, 5)], hidden: 0 };
    const next = applyEvents(rows, [ev(run(1, 7, { state: "RUN_STATE_RUNNING" })), ev(run(2, 9, { state: "RUN_STATE_FAILED" }))], ctx);
    assert.equal(next.rows[1]?.state, "RUN_STATE_RUNNING");
    assert.equal(next.rows[0]?.revision, 10, "an older snapshot does not overwrite");
    assert.equal(applyEvents(next, [ev(run(1, 7))], ctx), next, "nothing changed: the same object (no render)");
  });

  it("inserts new matching runs in id order, newest first", function () {
    const rows = { rows: [run(5, 1), run(3, 1)], hidden: 0 };
    const next = applyEvents(rows, [ev(run(4, 2)), ev(run(9, 3)), ev(run(9, 4, { state: "RUN_STATE_RUNNING" }))], ctx);
    assert.deepEqual(next.rows.map((r) => r.id), [id(9), id(5), id(4), id(3)]);
    assert.equal(next.rows[0]?.state, "RUN_STATE_RUNNING");
  });

  it("leaves out runs that do not match, runs of a later page, and all new runs off the first page", function () {
    const rows = { rows: [run(5, 1), run(3, 1)], hidden: 0 };
    assert.equal(applyEvents(rows, [ev(run(9, 2, { task: "other" }))], { ...ctx, filter: { ...EMPTY_FILTER, task: "t" } }), rows);
    assert.equal(applyEvents(rows, [ev(run(1, 2))], { ...ctx, hasNext: true }), rows, "older than the last row with more pages: not this page's");
    assert.equal(applyEvents(rows, [ev(run(9, 2))], { ...ctx, acceptNew: false }), rows);
  });

  it("counts arrivals past the cap instead of growing the page", function () {
    const full = { rows: Array.from({ length: MAX_LIVE_ROWS }, (_, i) => run(MAX_LIVE_ROWS - i, 1)), hidden: 0 };
    const next = applyEvents(full, [ev(run(1_000, 1)), ev(run(1_001, 1))], ctx);
    assert.equal(next.rows.length, MAX_LIVE_ROWS);
    assert.equal(next.hidden, 2);
  });
});
