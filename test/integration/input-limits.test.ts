import assert from "node:assert/strict";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { AttemptOutcome, RunState, task } from "@taskwire/client";
import { uniq, waitFor, startWorker } from "../helpers/env.js";
import { call, json, rawClient, type RawClient } from "../helpers/raw-client.js";
import { useStack } from "../helpers/stack.js";

const expectCode = (code: status, re: RegExp) => (err: unknown): boolean => {
  const e = err as ServiceError;
  assert.equal(e.code, code, `expected ${status[code]}, got ${status[e.code]}: ${e.details}`);
  assert.match(e.details, re);
  return true;
};

/** A unary call with a deadline, as a client in another language would make it. */
function callWithDeadline(c: RawClient, method: string, req: unknown, ms: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const fn = c[method] as unknown as (r: unknown, md: Metadata, o: { deadline: Date }, cb: (e: ServiceError | null, r: Record<string, unknown>) => void) => void;
    fn.call(c, req, new Metadata(), { deadline: new Date(Date.now() + ms) }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

describe("every input bounded and answered right (issue 11)", function () {
  const ran: string[] = [];
  const echo = task(uniq("echo"), async (x: string) => {
    ran.push(x);
    return x;
  });
  const stack = useStack({ broker: { maxStreamsPerConnection: 2, retentionMs: 3_600_000 } });
  let c: RawClient;
  before(() => {
    c = rawClient(stack.broker.address);
  });
  after(() => c?.close());

  it("answers an int64 the server cannot represent with INVALID_ARGUMENT, not INTERNAL", async function () {
    await assert.rejects(call(c, "Submit", { task: "t", args: json([]), options: { timeout_ms: "9223372036854775807" } }), expectCode(status.INVALID_ARGUMENT, /request: does not decode/));
    await assert.rejects(call(c, "Submit", { task: "t", args: json([]), options: { delay_ms: "9007199254740993" } }), expectCode(status.INVALID_ARGUMENT, /request: does not decode/));
  });

  it("bounds every duration and refuses a delay longer than the retention", async function () {
    await assert.rejects(call(c, "Submit", { task: "t", args: json([]), options: { delay_ms: 3_600_001 } }), expectCode(status.INVALID_ARGUMENT, /options\.delay_ms: must be <= 3600000/));
    await assert.rejects(call(c, "Submit", { task: "t", args: json([]), options: { timeout_ms: 366 * 86_400_000 } }), expectCode(status.INVALID_ARGUMENT, /options\.timeout_ms: must be <= 31536000000/));
    await assert.rejects(call(c, "Submit", { task: "t", args: json([]), options: { scheduled_at: { seconds: Math.floor(Date.now() / 1000) + 7_200 } } }), expectCode(status.INVALID_ARGUMENT, /options\.scheduled_at: .*retention/));
    await assert.rejects(call(c, "Submit", { task: "t", args: json([]), options: { retry: { max_retries: 1, delays_ms: Array.from({ length: 101 }, () => 1) } } }), expectCode(status.INVALID_ARGUMENT, /retry\.delays_ms: has 101 delays; the limit is 100/));
  });

  it("answers a 3 MB content type with INVALID_ARGUMENT naming the field", async function () {
    await assert.rejects(call(c, "Submit", { task: "t", args: { content_type: "x".repeat(3 * 1024 * 1024), data: Buffer.from("1") } }), expectCode(status.INVALID_ARGUMENT, /args\.content_type: is 3145728 characters; the limit is 256/));
  });

  it("runs a task whose timeout is longer than Node's 2^31−1 ms timer limit", async function () {
    const w = await startWorker(stack.nats.url, [echo]);
    try {
      const h = await echo.using(stack.client).applyAsync(["long-timeout"], { timeoutMs: 30 * 86_400_000 });
      assert.equal(await h.result({ timeoutMs: 10_000 }), "long-timeout");
    } finally {
      await w.stop();
    }
  });

  it("answers a waiting GetStatus before the caller's deadline", async function () {
    const sub = await call(c, "Submit", { task: uniq("nobody-serves"), args: json([]) });
    const id = (sub.run as { id: string }).id;
    const t0 = Date.now();
    const res = await callWithDeadline(c, "GetStatus", { run_id: id, wait_timeout_ms: 300_000 }, 800);
    assert.equal((res.run as { state: string }).state, "RUN_STATE_PENDING");
    assert.ok(Date.now() - t0 < 800, `answered after ${Date.now() - t0} ms`);
  });

  it("caps open StreamEvents calls per connection with RESOURCE_EXHAUSTED", async function () {
    const streams = [c.StreamEvents({ tasks: ["a"] }), c.StreamEvents({ tasks: ["b"] })];
    try {
      // Both are open once the broker has answered anything on them or a third is refused.
      const third = c.StreamEvents({ tasks: ["c"] });
      const err = await new Promise<ServiceError>((resolve) => {
        third.on("error", (e: ServiceError) => resolve(e));
        third.on("data", () => undefined);
      });
      assert.equal(err.code, status.RESOURCE_EXHAUSTED);
      assert.match(err.details, /TASKWIRE_MAX_STREAMS_PER_CONNECTION/);
    } finally {
      for (const s of streams) {
        s.on("error", () => undefined);
        s.cancel();
      }
    }
  });

  it("runs a queued run that was cancelled and then retried exactly once, with no fake crashed attempt", async function () {
    const x = uniq("cancel-retry");
    const h = await echo.using(stack.client).applyAsync([x]);
    await stack.client.cancel(h.id, "changed my mind");
    await stack.client.retry(h.id);
    const w = await startWorker(stack.nats.url, [echo]);
    try {
      assert.equal(await h.result({ timeoutMs: 10_000 }), x);
      // Give a stale second message time to be delivered and (wrongly) run.
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(ran.filter((r) => r === x).length, 1, "executed once");
      const st = await h.status();
      assert.equal(st.state, RunState.RUN_STATE_COMPLETED);
      assert.ok(!st.attempts.some((a) => a.outcome === AttemptOutcome.ATTEMPT_OUTCOME_CRASHED), "no crashed attempt recorded");
    } finally {
      await w.stop();
    }
  });

  it("marks a schedule that cannot fire, and the other schedules keep firing", async function () {
    const bad = uniq("bad-sched");
    const good = uniq("good-sched");
    // Valid when created; at fire time the run it waits for does not exist.
    await stack.client.createSchedule({ name: bad, cron: "* * * * * *", task: "t", options: { waitFor: ["01890000-0000-7000-8000-000000000000"] } });
    await stack.client.createSchedule({ name: good, cron: "* * * * * *", task: uniq("tick") });
    try {
      const marked = await waitFor(async () => (await stack.client.listSchedules()).find((s) => s.name === bad && s.lastError), "the failing schedule's error", 10_000);
      assert.match(marked.lastError, /NOT_FOUND: .*wait_for\[0\]/);
      assert.ok(marked.lastErrorAt instanceof Date);
      await waitFor(async () => (await stack.client.listSchedules()).find((s) => s.name === good && s.lastRunId), "the good schedule to fire", 10_000);
    } finally {
      await stack.client.deleteSchedule(bad);
      await stack.client.deleteSchedule(good);
    }
  });

  it("pages ListSchedules", async function () {
    const names = Array.from({ length: 5 }, (_, i) => `${uniq("page")}-${i}`);
    for (const n of names) await stack.client.createSchedule({ name: n, cron: "0 0 1 1 *", task: "t", paused: true });
    try {
      const first = await call(c, "ListSchedules", { page_size: 2 });
      assert.equal((first.schedules as unknown[]).length, 2);
      assert.ok(first.next_page_token);
      const all = await stack.client.listSchedules();
      for (const n of names) assert.ok(all.some((s) => s.name === n));
      await assert.rejects(call(c, "ListSchedules", { page_size: 1001 }), expectCode(status.INVALID_ARGUMENT, /page_size/));
    } finally {
      for (const n of names) await stack.client.deleteSchedule(n);
    }
  });
});
