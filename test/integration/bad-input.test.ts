import assert from "node:assert/strict";
import { status, type ServiceError } from "@grpc/grpc-js";
import type { Broker } from "@taskwire/broker";
import { startBroker, startNats } from "../helpers/env.js";
import { call, json, rawClient, type RawClient } from "../helpers/raw-client.js";

const UNKNOWN_ID = "01890000-0000-7000-8000-000000000000";

function expectCode(code: number, pattern: RegExp) {
  return (err: unknown): boolean => {
    const e = err as ServiceError;
    assert.equal(e.code, code, `expected ${status[code]}, got ${status[e.code]}: ${e.details}`);
    assert.match(e.details, pattern);
    return true;
  };
}

describe("bad input (plain proto-loader client)", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: Broker;
  let c: RawClient;

  before(async function () {
    nats = await startNats();
    broker = await startBroker(nats.url, { maxPayloadBytes: 64 * 1024 });
    c = rawClient(broker.address);
  });
  after(async function () {
    c?.close();
    await broker?.stop();
    await nats?.cleanup();
  });

  afterEach(async function () {
    // The broker keeps serving after every bad request.
    const res = await call(c, "Submit", { task: "still-alive", args: json([1]) });
    assert.equal((res.run as { state: string }).state, "RUN_STATE_PENDING");
  });

  it("rejects an empty task name", async function () {
    await assert.rejects(call(c, "Submit", { task: "", args: json([]) }), expectCode(status.INVALID_ARGUMENT, /^task: is required/));
  });

  it("rejects a malformed task name, saying which characters are allowed", async function () {
    await assert.rejects(call(c, "Submit", { task: "send email!", args: json([]) }), expectCode(status.INVALID_ARGUMENT, /task: .*letters, digits/));
  });

  it("rejects args that are not JSON under a JSON content type", async function () {
    await assert.rejects(
      call(c, "Submit", { task: "t", args: { content_type: "application/json", data: Buffer.from("{oops") } }),
      expectCode(status.INVALID_ARGUMENT, /^args: .*not valid JSON/),
    );
  });

  it("rejects a payload over the size limit with RESOURCE_EXHAUSTED", async function () {
    await assert.rejects(call(c, "Submit", { task: "t", args: json(["x".repeat(70 * 1024)]) }), expectCode(status.RESOURCE_EXHAUSTED, /over the limit of 65536 bytes/));
  });

  it("answers NOT_FOUND for an unknown run id", async function () {
    await assert.rejects(call(c, "GetStatus", { run_id: UNKNOWN_ID }), expectCode(status.NOT_FOUND, /not found/));
    await assert.rejects(call(c, "Cancel", { run_id: UNKNOWN_ID }), expectCode(status.NOT_FOUND, /not found/));
  });

  it("rejects a run id that is not a UUIDv7", async function () {
    await assert.rejects(call(c, "GetStatus", { run_id: "42" }), expectCode(status.INVALID_ARGUMENT, /^run_id: .*UUIDv7/));
  });

  it("rejects a negative timeout", async function () {
    await assert.rejects(call(c, "GetStatus", { run_id: UNKNOWN_ID, wait_timeout_ms: -5 }), expectCode(status.INVALID_ARGUMENT, /^wait_timeout_ms: must be >= 0/));
    await assert.rejects(call(c, "Submit", { task: "t", options: { timeout_ms: -1 } }), expectCode(status.INVALID_ARGUMENT, /options\.timeout_ms: must be >= 0/));
  });

  it("rejects a malformed cursor on StreamEvents", async function () {
    const stream = c.StreamEvents({ after_cursor: "abc" });
    const err = await new Promise<unknown>((resolve) => {
      stream.on("error", resolve);
      stream.on("data", () => {});
      stream.on("end", () => resolve(new Error("stream ended without an error")));
    });
    expectCode(status.INVALID_ARGUMENT, /^after_cursor: .*not a cursor/)(err);
  });

  it("validates a whole batch before enqueuing any of it", async function () {
    await assert.rejects(
      call(c, "SubmitBatch", { runs: [{ task: "ok", args: json([]) }, { task: "", args: json([]) }] }),
      expectCode(status.INVALID_ARGUMENT, /^runs\[1\]\.task: is required/),
    );
    const list = await call(c, "ListRuns", { task: "ok" });
    assert.equal((list.runs as unknown[]).length, 0, "nothing of the bad batch was enqueued");
  });

  it("rejects conflicting options", async function () {
    await assert.rejects(
      call(c, "Submit", { task: "t", options: { delay_ms: 10, scheduled_at: { seconds: 1e9, nanos: 0 } } }),
      expectCode(status.INVALID_ARGUMENT, /either delay_ms or scheduled_at/),
    );
    await assert.rejects(call(c, "Submit", { task: "t", options: { queue: "Bad_Queue" } }), expectCode(status.INVALID_ARGUMENT, /options\.queue/));
  });
});
