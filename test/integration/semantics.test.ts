import assert from "node:assert/strict";
import { asCompleted, AttemptOutcome, context, EventType, NonRetryableError, RetryAfterError, RunState, Status, TaskwireError, task } from "@taskwire/client";
import type { RunOutcome } from "@taskwire/worker";
import { uniq, waitFor, startWorker } from "../helpers/env.js";
import { useStack } from "../helpers/stack.js";

describe("task semantics (real nats-server)", function () {
  const name = uniq("sem");
  const executions = new Map<string, number>();
  const count = (k: string): void => void executions.set(k, (executions.get(k) ?? 0) + 1);
  const completions: RunOutcome[] = [];
  const failures: RunOutcome[] = [];

  const square = task(`${name}-square`, async (n: number) => {
    count(`square:${n}`);
    return n * n;
  });
  let fixed = false;
  const fragile = task(`${name}-fragile`, async () => {
    if (!fixed) throw new NonRetryableError("downstream is broken", { type: "Broken" });
    return "ok";
  });
  const sleepy = task(`${name}-sleepy`, async (ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    return ms;
  });
  const backoff = task(`${name}-backoff`, async () => {
    if (context().attempt < 3) throw new Error("not yet");
    return context().attempt;
  }, { retries: 3, retryDelaysMs: [200, 400] });
  const politely = task(`${name}-politely`, async () => {
    if (context().attempt === 1) throw new RetryAfterError(300, "rate limited upstream");
    return "done";
  }, { retries: 1 });
  const slowpoke = task(`${name}-slowpoke`, async () => {
    await new Promise<void>((r) => context().signal.addEventListener("abort", () => r(), { once: true }));
    return "never";
  }, { timeoutMs: 150, retries: 1, retryDelaysMs: [50] });
  const big = task(`${name}-big`, async (n: number) => "y".repeat(n));
  const late = task(`${name}-late`, async () => {
    count("late");
    return 1;
  });

  const stack = useStack({ tasks: [square, fragile, sleepy, backoff, politely, slowpoke, big], worker: { concurrency: 8, onCompletion: (o) => void completions.push(o), onFailure: (o) => void failures.push(o) } });

  describe("caching", function () {
    it("answers a hit from the cache without executing, flagged cached; refreshCache executes again", async function () {
      const key = uniq("k");
      const first = await square.using(stack.client).applyAsync([7], { cacheKey: key, cacheTtlMs: 60_000 });
      assert.equal(await first.result({ timeoutMs: 10_000 }), 49);
      assert.equal(executions.get("square:7"), 1);
      const second = await square.using(stack.client).applyAsync([7], { cacheKey: key, cacheTtlMs: 60_000 });
      const st = await second.status();
      assert.notEqual(second.id, first.id);
      assert.equal(st.state, RunState.RUN_STATE_COMPLETED, "completed at once");
      assert.equal(st.cached, true);
      assert.equal(st.lastEvent, EventType.EVENT_TYPE_CACHED);
      assert.equal(await second.result(), 49);
      assert.equal(executions.get("square:7"), 1, "the function did not run again");
      const refreshed = await square.using(stack.client).applyAsync([7], { cacheKey: key, cacheTtlMs: 60_000, refreshCache: true });
      await refreshed.result({ timeoutMs: 10_000 });
      assert.equal(executions.get("square:7"), 2);
    });

    it("keys on the arguments when no key is given, and expires after the TTL", async function () {
      const a = await square.using(stack.client).applyAsync([11], { cacheTtlMs: 400 });
      await a.result({ timeoutMs: 10_000 });
      assert.equal((await (await square.using(stack.client).applyAsync([11], { cacheTtlMs: 400 })).status()).cached, true);
      assert.equal((await (await square.using(stack.client).applyAsync([12], { cacheTtlMs: 400 })).wait({ timeoutMs: 10_000 })).cached, false, "other args miss");
      await new Promise((r) => setTimeout(r, 450));
      const after = await square.using(stack.client).applyAsync([11], { cacheTtlMs: 400 });
      assert.equal((await after.wait({ timeoutMs: 10_000 })).cached, false, "expired entry misses");
      assert.equal(executions.get("square:11"), 2);
    });
  });

  describe("retries", function () {
    it("waits the configured delays between attempts and shows the next attempt's time while waiting", async function () {
      const run = await backoff.using(stack.client).delay();
      const waiting = await waitFor(async () => {
        const s = await run.status();
        return s.state === RunState.RUN_STATE_AWAITING_RETRY ? s : undefined;
      }, "AWAITING_RETRY");
      assert.ok(waiting.nextAttemptAt, "next attempt time visible");
      assert.equal(await run.result({ timeoutMs: 10_000 }), 3);
      const st = await run.status();
      const starts = st.attempts.map((a) => a.startedAt?.getTime() ?? 0);
      const gap1 = (starts[1] ?? 0) - (starts[0] ?? 0);
      const gap2 = (starts[2] ?? 0) - (starts[1] ?? 0);
      assert.ok(gap1 >= 190 && gap1 < 1_000, `first delay ${gap1} ms (want ~200)`);
      assert.ok(gap2 >= 390 && gap2 < 1_300, `second delay ${gap2} ms (want ~400)`);
      assert.deepEqual(st.attempts.map((a) => a.error?.message ?? ""), ["not yet", "not yet", ""], "every attempt's error is kept");
    });

    it("applies the task definition's defaults to a run submitted by name only", async function () {
      const run = await stack.client.submit<number>(backoff.taskName, []);
      assert.equal(await run.result({ timeoutMs: 10_000 }), 3, "retried per the definition's policy");
      const st = await run.status();
      assert.deepEqual(st.options?.retry?.delaysMs, [200, 400], "the effective policy is recorded");
    });

    it("honours RetryAfterError's delay", async function () {
      const run = await politely.using(stack.client).delay();
      assert.equal(await run.result({ timeoutMs: 10_000 }), "done");
      const [a1, a2] = (await run.status()).attempts;
      const gap = (a2?.startedAt?.getTime() ?? 0) - (a1?.finishedAt?.getTime() ?? 0);
      assert.ok(gap >= 290, `retried after ${gap} ms (asked 300)`);
    });

    it("records timed-out attempts and retries them", async function () {
      const run = await slowpoke.using(stack.client).delay();
      const st = await run.wait({ timeoutMs: 10_000 });
      assert.equal(st.state, RunState.RUN_STATE_FAILED);
      assert.deepEqual(st.attempts.map((a) => a.outcome), [AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT, AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT]);
      assert.equal(st.error?.type, "TimeoutError");
    });
  });

  describe("results", function () {
    it("keeps large results in the Object Store, transparently to result()", async function () {
      const run = await big.using(stack.client).delay(300_000);
      assert.equal((await run.result({ timeoutMs: 10_000 })).length, 300_000);
      const listed = (await stack.client.listRuns({ task: big.taskName })).runs.find((r) => r.id === run.id);
      assert.equal(listed?.resultRef, run.id, "the record holds a reference, not the data");
      assert.equal(listed?.result?.data.length, 0);
      const small = await big.using(stack.client).delay(10);
      await small.result({ timeoutMs: 10_000 });
      assert.equal((await small.status()).resultRef, "", "small results stay inline");
    });

    it("fails a run whose result is over the limit, with a clear error", async function () {
      const run = await big.using(stack.client).delay(4 * 1024 * 1024);
      const st = await run.wait({ timeoutMs: 10_000 });
      assert.equal(st.state, RunState.RUN_STATE_FAILED);
      assert.equal(st.error?.type, "ResultTooLarge");
      assert.match(st.error?.message ?? "", /TASKWIRE_MAX_RESULT_BYTES/);
    });
  });

  describe("dead letters and Retry", function () {
    it("lists failed runs and runs one again as a new attempt", async function () {
      fixed = false;
      const run = await fragile.using(stack.client).delay();
      assert.equal((await run.wait({ timeoutMs: 10_000 })).state, RunState.RUN_STATE_FAILED);
      const dead = await stack.client.listRuns({ task: fragile.taskName, states: [RunState.RUN_STATE_FAILED] });
      assert.ok(dead.runs.some((r) => r.id === run.id));
      fixed = true;
      await run.retry();
      assert.equal(await run.result({ timeoutMs: 10_000 }), "ok");
      const st = await run.status();
      assert.equal(st.attempts.length, 2);
      const types: EventType[] = [];
      for await (const e of run.events()) types.push(e.type);
      assert.ok(types.includes(EventType.EVENT_TYPE_RESUBMITTED));
      await assert.rejects(run.retry(), (e: unknown) => e instanceof TaskwireError && e.code === Status.FAILED_PRECONDITION);
    });
  });

  describe("schedule-to-start timeout", function () {
    it("expires a run no worker started in time, without executing it", async function () {
      const run = await late.using(stack.client).applyAsync([], { scheduleToStartTimeoutMs: 100 });
      await new Promise((r) => setTimeout(r, 250));
      const w = await startWorker(stack.nats.url, [late]);
      try {
        const st = await run.wait({ timeoutMs: 10_000 });
        assert.equal(st.state, RunState.RUN_STATE_FAILED);
        assert.equal(st.error?.type, "ScheduleToStartTimeout");
        assert.equal(st.lastEvent, EventType.EVENT_TYPE_EXPIRED);
        assert.equal(executions.get("late") ?? 0, 0);
        const ok = await late.using(stack.client).applyAsync([], { scheduleToStartTimeoutMs: 5_000 });
        assert.equal(await ok.result({ timeoutMs: 10_000 }), 1);
      } finally {
        await w.stop();
      }
    });

    it("expires on time even when no worker serves the task", async function () {
      const orphan = await stack.client.submit(uniq("nobody-serves"), [], { scheduleToStartTimeoutMs: 200 });
      const st = await orphan.wait({ timeoutMs: 10_000 });
      assert.equal(st.state, RunState.RUN_STATE_FAILED);
      assert.equal(st.error?.type, "ScheduleToStartTimeout");
      const late2 = (st.finishedAt?.getTime() ?? 0) - (st.createdAt?.getTime() ?? 0);
      assert.ok(late2 >= 190 && late2 < 3_000, `expired ${late2} ms after submit`);
    });

    it("(keeps serving after expiries)", async function () {
      const w = await startWorker(stack.nats.url, [late]);
      try {
        const ok = await late.using(stack.client).applyAsync([], { scheduleToStartTimeoutMs: 5_000 });
        assert.equal(await ok.result({ timeoutMs: 10_000 }), 1);
      } finally {
        await w.stop();
      }
    });
  });

  describe("fan-out / fan-in and hooks", function () {
    it("yields handles as they complete", async function () {
      const handles = await sleepy.using(stack.client).map([[600], [100], [350]]);
      const order: number[] = [];
      for await (const h of asCompleted(handles, { timeoutMs: 10_000 })) order.push((await h.result()) as number);
      assert.deepEqual(order, [100, 350, 600]);
    });

    it("starts a run only after the runs it waits for complete", async function () {
      const deps = await sleepy.using(stack.client).map([[300], [500]]);
      const after = await square.using(stack.client).applyAsync([5], { waitFor: deps });
      assert.equal((await after.status()).state, RunState.RUN_STATE_SCHEDULED);
      assert.equal(await after.result({ timeoutMs: 10_000 }), 25);
      const depEnds = await Promise.all(deps.map(async (d) => (await d.status()).finishedAt?.getTime() ?? 0));
      const started = (await after.status()).startedAt?.getTime() ?? 0;
      assert.ok(started >= Math.max(...depEnds), "started after every dependency finished");
    });

    it("fails a waiting run when a dependency fails, unless told to run anyway", async function () {
      fixed = false;
      const bad = await fragile.using(stack.client).delay();
      const blocked = await square.using(stack.client).applyAsync([6], { waitFor: [bad.id] });
      const st = await blocked.wait({ timeoutMs: 10_000 });
      assert.equal(st.state, RunState.RUN_STATE_FAILED);
      assert.equal(st.error?.type, "DependencyFailed");
      assert.equal(st.attempts.length, 0, "never executed");
      const anyway = await square.using(stack.client).applyAsync([6], { waitFor: [bad.id], runIfDependenciesFail: true });
      assert.equal(await anyway.result({ timeoutMs: 10_000 }), 36);
      await assert.rejects(square.using(stack.client).applyAsync([1], { waitFor: ["01890000-0000-7000-8000-000000000000"] }), (e: unknown) => e instanceof TaskwireError && e.code === Status.NOT_FOUND && /wait_for\[0\]/.test(e.message));
    });

    it("calls onCompletion and onFailure after the outcome is recorded", async function () {
      const ok = await square.using(stack.client).delay(3);
      await ok.result({ timeoutMs: 10_000 });
      fixed = false;
      const bad = await fragile.using(stack.client).delay();
      await bad.wait({ timeoutMs: 10_000 });
      await waitFor(() => completions.some((c) => c.runId === ok.id && c.result === 9), "onCompletion");
      await waitFor(() => failures.some((f) => f.runId === bad.id && f.error?.type === "Broken"), "onFailure");
    });
  });
});
