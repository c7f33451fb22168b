import assert from "node:assert/strict";
import { AttemptOutcome, type Failure, RetryPolicy, TaskRun } from "@taskwire/protocol";
import { decideRetry } from "../src/retry.js";

function runWith(policy: Partial<RetryPolicy> | undefined, failedAttempts: number, crashed = 0): TaskRun {
  const attempts = [
    ...Array.from({ length: crashed }, (_, i) => ({ number: i + 1, outcome: AttemptOutcome.ATTEMPT_OUTCOME_CRASHED })),
    ...Array.from({ length: failedAttempts }, (_, i) => ({ number: crashed + i + 1, outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED })),
  ];
  return TaskRun.fromPartial({ id: "r", options: { retry: policy ? RetryPolicy.fromPartial(policy) : undefined }, attempts });
}
const err = (type = "Error", retryable = true): Failure => ({ type, message: "x", stack: "", retryable });

describe("decideRetry", function () {
  it("does not retry without a policy", function () {
    assert.deepEqual(decideRetry(runWith(undefined, 1), err()), { retry: false });
  });

  it("retries up to max_retries, then stops", function () {
    const p = { maxRetries: 2, delaysMs: [10] };
    assert.deepEqual(decideRetry(runWith(p, 1), err()), { retry: true, delayMs: 10 });
    assert.deepEqual(decideRetry(runWith(p, 2), err()), { retry: true, delayMs: 10 });
    assert.deepEqual(decideRetry(runWith(p, 3), err()), { retry: false });
  });

  it("does not count crashed attempts against the policy", function () {
    assert.deepEqual(decideRetry(runWith({ maxRetries: 1, delaysMs: [5] }, 1, 3), err()), { retry: true, delayMs: 5 });
  });

  it("uses the explicit delay list, repeating its last entry", function () {
    const p = { maxRetries: 5, delaysMs: [100, 200] };
    assert.equal((decideRetry(runWith(p, 1), err()) as { delayMs: number }).delayMs, 100);
    assert.equal((decideRetry(runWith(p, 2), err()) as { delayMs: number }).delayMs, 200);
    assert.equal((decideRetry(runWith(p, 4), err()) as { delayMs: number }).delayMs, 200);
  });

  it("grows exponentially from the initial delay up to the cap", function () {
    const p = { maxRetries: 10, initialDelayMs: 100, backoffMultiplier: 3, maxDelayMs: 1_000 };
    const delays = [1, 2, 3, 4].map((n) => (decideRetry(runWith(p, n), err()) as { delayMs: number }).delayMs);
    assert.deepEqual(delays, [100, 300, 900, 1_000]);
  });

  it("defaults to 1 s doubling, capped at 60 s", function () {
    const p = { maxRetries: 20 };
    assert.equal((decideRetry(runWith(p, 1), err()) as { delayMs: number }).delayMs, 1_000);
    assert.equal((decideRetry(runWith(p, 2), err()) as { delayMs: number }).delayMs, 2_000);
    assert.equal((decideRetry(runWith(p, 10), err()) as { delayMs: number }).delayMs, 60_000);
  });

  it("spreads delays by the jitter fraction", function () {
    const p = { maxRetries: 3, delaysMs: [1_000], jitter: 0.2 };
    assert.equal((decideRetry(runWith(p, 1), err(), undefined, () => 0) as { delayMs: number }).delayMs, 800);
    assert.equal((decideRetry(runWith(p, 1), err(), undefined, () => 1) as { delayMs: number }).delayMs, 1_200);
  });

  it("honours retry_on and never_retry_on, and non-retryable failures", function () {
    assert.deepEqual(decideRetry(runWith({ maxRetries: 3, retryOn: ["Timeout"] }, 1), err("TypeError")), { retry: false });
    assert.equal(decideRetry(runWith({ maxRetries: 3, retryOn: ["Timeout"], delaysMs: [1] }, 1), err("Timeout")).retry, true);
    assert.deepEqual(decideRetry(runWith({ maxRetries: 3, neverRetryOn: ["Fatal"] }, 1), err("Fatal")), { retry: false });
    assert.deepEqual(decideRetry(runWith({ maxRetries: 3 }, 1), err("X", false)), { retry: false });
  });

  it("uses the delay a RetryAfterError asked for", function () {
    assert.deepEqual(decideRetry(runWith({ maxRetries: 1, delaysMs: [5] }, 1), err("RetryAfterError"), 4_321), { retry: true, delayMs: 4_321 });
  });
});
