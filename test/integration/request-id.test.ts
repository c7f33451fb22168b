import assert from "node:assert/strict";
import { v4 as uuidv4, v7 as uuidv7 } from "uuid";
import { Client, encodeArgs, RunState, Status, task, TaskwireError } from "@taskwire/client";
import { SubmitRequest } from "@taskwire/protocol";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { IDEMPOTENCY_BUCKET, isRunId } from "@taskwire/core";
import { uniq } from "../helpers/env.js";
import { useStack } from "../helpers/stack.js";

// SubmitRequest.request_id: a retried Submit yields the same run. A request
// id made just now becomes the run id (the record's create is the duplicate
// check); one from a skewed clock or of another UUID version goes through
// the idempotency bucket, and still yields one run.

describe("Submit request ids (a retry never makes a second run)", function () {
  const name = uniq("rid");
  let executions = 0;
  const echo = task(`${name}-echo`, async (n: number) => {
    executions++;
    return n;
  });
  const other = task(`${name}-other`, async () => 1);
  const stack = useStack({ tasks: [echo, other] });
  const req = (requestId: string, t = echo.taskName, n = 1): SubmitRequest => SubmitRequest.fromPartial({ task: t, args: encodeArgs([n]), requestId });
  let raw: Client;
  before(function () {
    // No request ids of its own, so these tests choose them.
    raw = new Client({ address: stack.broker.address, coalesceSubmits: false, requestIds: false, callRetry: false });
  });
  after(() => raw.close());

  it("makes a fresh UUIDv7 request id the run id, and answers a retry with that run, deduplicated", async function () {
    const id = uuidv7();
    const before = executions;
    const first = await raw.submitRaw(req(id));
    assert.equal(first.run.id, id);
    assert.equal(first.deduplicated, false);
    const again = await raw.submitRaw(req(id, echo.taskName, 2));
    assert.equal(again.run.id, id);
    assert.equal(again.deduplicated, true);
    const done = await stack.client.getStatus(id, 10_000);
    assert.equal(done.state, RunState.RUN_STATE_COMPLETED);
    // Once more after it finished: still the same run, not executed again.
    const late = await raw.submitRaw(req(id));
    assert.equal(late.deduplicated, true);
    assert.equal(late.run.state, RunState.RUN_STATE_COMPLETED);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(executions - before, 1, "executed once");
    const listed = await stack.client.listRuns({ task: echo.taskName, pageSize: 100 });
    assert.equal(listed.runs.filter((r) => r.id === id).length, 1, "listed once");
  });

  it("dedupes a request id from a skewed clock (or not a UUIDv7) through the idempotency bucket", async function () {
    for (const id of [uuidv7({ msecs: Date.now() - 3_600_000 }), uuidv7({ msecs: Date.now() + 3_600_000 }), uuidv4()]) {
      const first = await raw.submitRaw(req(id));
      assert.notEqual(first.run.id, id, "the run got an id of its own (ids sort by time)");
      const again = await raw.submitRaw(req(id));
      assert.equal(again.run.id, first.run.id);
      assert.equal(again.deduplicated, true);
    }
  });

  it("finds the run a request id became even when its retry comes after the id's time window", async function () {
    // Made 59.9 s ago: the run id on the first call, out of the window by the retry.
    const id = uuidv7({ msecs: Date.now() - 59_900 });
    const first = await raw.submitRaw(req(id));
    assert.equal(first.run.id, id);
    await new Promise((r) => setTimeout(r, 250));
    const again = await raw.submitRaw(req(id));
    assert.equal(again.run.id, id);
    assert.equal(again.deduplicated, true);
  });

  it("refuses a request id used for another task (ALREADY_EXISTS) and one that is not a UUID (INVALID_ARGUMENT)", async function () {
    const id = uuidv7();
    await raw.submitRaw(req(id));
    await assert.rejects(raw.submitRaw(req(id, other.taskName)), (err: unknown) => err instanceof TaskwireError && err.code === Status.ALREADY_EXISTS && /request_id .* was already used/.test(err.message));
    await assert.rejects(raw.submitRaw(req("not-a-uuid")), (err: unknown) => err instanceof TaskwireError && err.code === Status.INVALID_ARGUMENT && /request_id/.test(err.message));
  });

  it("the TS client sends one per Submit by default (UUIDv7s in call order), which costs no idempotency-key write", async function () {
    const nc = await connect({ servers: stack.nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const keys = async (): Promise<number> => (await jsm.streams.info(`KV_${IDEMPOTENCY_BUCKET}`)).state.last_seq;
      const before = await keys();
      const handles = await Promise.all([1, 2, 3].map((n) => echo.using(stack.client).delay(n)));
      const single = await echo.using(stack.client).delay(4);
      for (const [i, h] of [...handles, single].entries()) assert.equal(await h.result({ timeoutMs: 10_000 }), i + 1);
      assert.equal(await keys(), before, "no key written: the request ids became the run ids");
      const ids = [...handles, single].map((h) => h.id);
      assert.ok(ids.every(isRunId), `UUIDv7 run ids: ${ids.join(", ")}`);
      assert.deepEqual([...ids].sort(), ids, "ids sort in the order the Submits were made");
    } finally {
      await nc.close();
    }
  });
});
