import assert from "node:assert/strict";
import { configFromEnv } from "@taskwire/broker";
import { ConfigError } from "@taskwire/core";
import { resolveOptions } from "@taskwire/worker/internal";

describe("configuration", () => {
  it("rejects a byte size with a unit, naming the variable and the expected form", () => {
    assert.throws(
      () => resolveOptions({}, "w", { TASKWIRE_MAX_RESULT_BYTES: "3MiB" }),
      (err: unknown) => err instanceof ConfigError && /TASKWIRE_MAX_RESULT_BYTES=3MiB: expected a whole number of bytes .*no units/.test(err.message),
    );
  });

  it("rejects a non-number grace period instead of turning it into ~1 ms", () => {
    assert.throws(() => resolveOptions({}, "w", { TASKWIRE_SHUTDOWN_GRACE_MS: "abc" }), /TASKWIRE_SHUTDOWN_GRACE_MS=abc: expected a whole number of ms/);
    assert.throws(() => configFromEnv({}, { TASKWIRE_SHUTDOWN_GRACE_MS: "abc" }), /TASKWIRE_SHUTDOWN_GRACE_MS=abc/);
  });

  it("reports every bad setting at once", () => {
    assert.throws(
      () => configFromEnv({}, { TASKWIRE_LISTEN: "nope", TASKWIRE_REPLICAS: "0", TASKWIRE_SCHEDULER: "maybe", TASKWIRE_LOG_LEVEL: "loud" }),
      (err: unknown) => err instanceof ConfigError && ["TASKWIRE_LISTEN=nope", "TASKWIRE_REPLICAS=0", "TASKWIRE_SCHEDULER=maybe", "TASKWIRE_LOG_LEVEL=loud"].every((s) => err.message.includes(s)),
    );
  });

  it("takes flags over the environment over defaults", () => {
    const env = { TASKWIRE_LISTEN: "0.0.0.0:6000", TASKWIRE_REPLICAS: "3", TASKWIRE_SCHEDULER: "false" };
    const c = configFromEnv({ listen: "127.0.0.1:7000", maxPayloadBytes: undefined }, env);
    assert.equal(c.listen, "127.0.0.1:7000");
    assert.equal(c.replicas, 3);
    assert.equal(c.scheduler, false);
    assert.equal(c.maxPayloadBytes, 524_288);
  });

  it("validates options given in code too", () => {
    assert.throws(() => resolveOptions({ concurrency: 0 }, "w", {}), /concurrency=0: expected a whole number of runs from 1/);
    assert.throws(() => resolveOptions({ queues: ["Bad_Queue"] }, "w", {}), /"Bad_Queue" is not one/);
    const o = resolveOptions({}, "w", { TASKWIRE_QUEUES: "a, b", TASKWIRE_CONCURRENCY: "4" });
    assert.deepEqual(o.queues, ["a", "b"]);
    assert.equal(o.concurrency, 4);
  });
});
