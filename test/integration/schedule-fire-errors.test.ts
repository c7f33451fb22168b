// How a cron fire reacts to its Submit failing: a transient failure
// (UNAVAILABLE while it lasts; ABORTED, DEADLINE_EXCEEDED, INTERNAL for
// fireRetryMs) leaves the fire due and retries it under the same idempotency
// key, so the fire still makes exactly one run; the schedule's own error is
// recorded and the fire skipped. The schedules live in a real KV bucket;
// Submit is a test double that fails as told.
import assert from "node:assert/strict";
import { status as Status } from "@grpc/grpc-js";
import { BrokerError } from "@taskwire/broker";
import { CronSchedules, type Runs } from "@taskwire/broker/internal";
import { ensureResources, NatsHandle } from "@taskwire/core";
import { Schedule, SubmitRequest, TaskRun } from "@taskwire/protocol";
import { silent, startNats, uniq, waitFor } from "../helpers/env.js";

describe("cron schedules: a fire whose Submit fails", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let handle: NatsHandle;
  let kv: Awaited<ReturnType<typeof ensureResources>>["schedules"];
  before(async function () {
    nats = await startNats();
    handle = await NatsHandle.connect({ servers: nats.url });
    kv = (await ensureResources(handle, { log: silent })).schedules;
  });
  after(async function () {
    await handle?.close();
    await nats?.cleanup();
  });

  /** A Runs whose submit throws the given errors in turn, then succeeds; it records each call's idempotency key. */
  function failingRuns(errors: Error[]): { runs: Runs; keys: string[] } {
    const keys: string[] = [];
    const fake = {
      nats: { connected: true },
      maxPayloadBytes: 1 << 20,
      ensureConnected: () => undefined,
      submit: async (v: SubmitRequest) => {
        keys.push(v.options?.idempotencyKey ?? "");
        const err = errors.shift();
        if (err) throw err;
        return { run: TaskRun.fromPartial({ id: `run-${keys.length}` }), deduplicated: false };
      },
    };
    return { runs: fake as unknown as Runs, keys };
  }
  const stored = async (name: string) => {
    const e = await kv.get(name);
    assert.ok(e && e.operation === "PUT");
    return Schedule.decode(e.value);
  };

  for (const code of [Status.UNAVAILABLE, Status.ABORTED, Status.DEADLINE_EXCEEDED, Status.INTERNAL]) {
    it(`retries a fire after ${Status[code]} under the same idempotency key, and records no error`, async function () {
      const { runs, keys } = failingRuns([new BrokerError(code, "planned"), new BrokerError(code, "planned again")]);
      const cron = new CronSchedules(kv, runs, silent);
      await cron.start();
      const name = uniq("s");
      try {
        await cron.create(Schedule.fromPartial({ name, cron: "* * * * * *", run: { task: "t" } }));
        const fired = await waitFor(async () => ((await stored(name)).lastRunId ? stored(name) : undefined), "the fire's run recorded", 10_000, 50);
        assert.ok(keys.length >= 3, `tried ${keys.length} times`);
        assert.equal(new Set(keys.slice(0, 3)).size, 1, `one fire, one key: ${keys.slice(0, 3).join(", ")}`);
        assert.match(keys[0] ?? "", new RegExp(`^schedule:${name}:`));
        assert.equal(fired.lastRunId, "run-3");
        assert.equal(fired.lastError, "");
      } finally {
        cron.stop();
        await cron.delete(name); // each CronSchedules fires every schedule in the bucket
      }
    });
  }

  it("records the schedule's own error (and a transient one past fireRetryMs) and skips the fire to the next time", async function () {
    for (const [code, retryMs] of [[Status.INVALID_ARGUMENT, 60_000], [Status.INTERNAL, 0], [Status.ABORTED, 0]] as const) {
      const { runs, keys } = failingRuns([new BrokerError(code, "planned"), new BrokerError(code, "planned")]);
      const cron = new CronSchedules(kv, runs, silent, retryMs);
      await cron.start();
      const name = uniq("s");
      try {
        await cron.create(Schedule.fromPartial({ name, cron: "* * * * * *", run: { task: "t" } }));
        const failed = await waitFor(async () => ((await stored(name)).lastError ? stored(name) : undefined), "the error recorded", 10_000, 50);
        assert.match(failed.lastError, new RegExp(`^${Status[code]}: planned`));
        assert.ok(failed.lastErrorAt instanceof Date);
        // Skipped: the next fire is a new key, and it succeeds.
        await waitFor(async () => ((await stored(name)).lastRunId ? true : undefined), "a later fire's run", 10_000, 50);
        assert.notEqual(keys[0], keys[keys.length - 1], "the failed fire was not retried");
      } finally {
        cron.stop();
        await cron.delete(name);
      }
    }
  });
});
