import assert from "node:assert/strict";
import { decodeArgs, decodeJson, encodeArgs, task, isTaskDefinition, NonRetryableError, RetryAfterError } from "@taskwire/client";
import { toSubmitOptions } from "@taskwire/client/internal";

describe("SDK pieces that need no broker", function () {
  it("encodes positional args as a JSON array and decodes them back", function () {
    const p = encodeArgs([1, "two", { three: [3] }]);
    assert.equal(p.contentType, "application/json");
    assert.deepEqual(decodeArgs(p), [1, "two", { three: [3] }]);
    assert.deepEqual(decodeArgs({ contentType: "", data: Buffer.from('"solo"') }), ["solo"]);
    assert.equal(decodeJson({ contentType: "application/json", data: Buffer.alloc(0) }), undefined);
  });

  it("maps task defaults and call options onto SubmitOptions", function () {
    const o = toSubmitOptions({ retries: 3, retryDelaysMs: [100], timeoutMs: 5_000, queue: "emails", idempotencyKey: "k", delayMs: 60_000, labels: { a: "b" } });
    assert.equal(o.retry?.maxRetries, 3);
    assert.deepEqual(o.retry?.delaysMs, [100]);
    assert.equal(o.timeoutMs, 5_000);
    assert.equal(o.queue, "emails");
    assert.equal(o.idempotencyKey, "k");
    assert.equal(o.delayMs, 60_000);
    assert.equal(toSubmitOptions({}).retry, undefined, "no retry policy unless asked");
  });

  it("makes callable, branded task definitions", async function () {
    const double = task("double", (n: number) => n * 2, { retries: 2 });
    assert.ok(isTaskDefinition(double));
    assert.equal(double.taskName, "double");
    assert.equal(await double(21), 42);
    assert.equal(double.options.retries, 2);
    assert.ok(!isTaskDefinition(() => 1));
  });

  it("gives steering errors the fields the worker reads", function () {
    const n = new NonRetryableError("bad input", { type: "ValidationError" });
    assert.equal(n.retryable, false);
    assert.equal(n.name, "ValidationError");
    assert.equal(new RetryAfterError(1_500).delayMs, 1_500);
  });
});
