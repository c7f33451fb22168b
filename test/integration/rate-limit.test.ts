import assert from "node:assert/strict";
import { task, waitAll, type TaskRun } from "@taskwire/client";
import { uniq } from "../helpers/env.js";
import { useStack } from "../helpers/stack.js";

/** Most starts inside any window of `ms`. */
function maxStartsInWindow(runs: TaskRun[], ms: number): number {
  const t = runs.flatMap((r) => r.attempts.map((a) => a.startedAt?.getTime() ?? 0)).sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; j < t.length; j++) {
    while ((t[j] ?? 0) - (t[i] ?? 0) >= ms) i++;
    max = Math.max(max, j - i + 1);
  }
  return max;
}

describe("rate limits across workers", function () {
  const perTask = task(uniq("rl"), async () => Date.now(), { rateLimit: { limit: 4, intervalMs: 500 } });
  const perKey = task(uniq("rlkey"), async () => Date.now(), { rateLimit: { limit: 2, intervalMs: 500, perKey: true } });

  const stack = useStack({ tasks: [perTask, perKey], workers: 3, worker: { concurrency: 8 } });

  it("starts at most N runs per interval, counted across three workers", async function () {
    const handles = await perTask.using(stack.client).map(Array.from({ length: 16 }, () => []));
    await waitAll(handles, { timeoutMs: 30_000 });
    const runs = await Promise.all(handles.map((h) => h.status()));
    assert.ok(maxStartsInWindow(runs, 500) <= 4, `at most 4 starts in any 500 ms, saw ${maxStartsInWindow(runs, 500)}`);
    const starts = runs.map((r) => r.startedAt?.getTime() ?? 0);
    const span = Math.max(...starts) - Math.min(...starts);
    assert.ok(span >= 1_400, `16 runs at 4 per 500 ms need ≥ 1.5 s, took ${span} ms`);
    assert.ok(new Set(runs.map((r) => r.workerId)).size >= 2, "several workers took part");
  });

  it("limits per key independently", async function () {
    const a = await Promise.all(Array.from({ length: 4 }, () => perKey.using(stack.client).applyAsync([], { concurrencyKey: "customer-a" })));
    const b = await Promise.all(Array.from({ length: 4 }, () => perKey.using(stack.client).applyAsync([], { concurrencyKey: "customer-b" })));
    await waitAll([...a, ...b], { timeoutMs: 30_000 });
    const ra = await Promise.all(a.map((h) => h.status()));
    const rb = await Promise.all(b.map((h) => h.status()));
    assert.ok(maxStartsInWindow(ra, 500) <= 2 && maxStartsInWindow(rb, 500) <= 2);
    const first = (rs: TaskRun[]) => Math.min(...rs.map((r) => r.startedAt?.getTime() ?? 0));
    assert.ok(Math.abs(first(ra) - first(rb)) < 400, "one key's limit does not hold back the other");
  });
});
