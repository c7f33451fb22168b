import assert from "node:assert/strict";
import { task } from "@taskwire/client";
import { uniq } from "../helpers/env.js";
import { useStack } from "../helpers/stack.js";
import { run, tool } from "../helpers/tools.js";

/**
 * The real grpcurl against a broker, as users use it: everything through
 * server reflection (no .proto files on the command line).
 */
describe("grpcurl: reflection serves complete descriptors, calls and health work", function () {
  this.timeout(60_000);
  const add = task(uniq("grpcurl-add"), async (a: number, b: number) => a + b);
  const stack = useStack({ tasks: [add] });
  const grpcurl = (...args: string[]) => run(tool("grpcurl"), ["-plaintext", ...args]);

  it("lists TaskService, WorkerService and grpc.health.v1.Health", async function () {
    const r = await grpcurl(stack.broker.address, "list");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n").sort(), ["grpc.health.v1.Health", "taskwire.v1.TaskService", "taskwire.v1.WorkerService"]);
  });

  it("describes the service and messages that use google.protobuf.Timestamp, with their comments", async function () {
    const svc = await grpcurl(stack.broker.address, "describe", "taskwire.v1.TaskService");
    assert.equal(svc.code, 0, svc.stderr);
    assert.match(svc.stdout, /\/\/ TaskService accepts runs/, "comments come along (source info)");
    assert.match(svc.stdout, /rpc Submit \( \.taskwire\.v1\.SubmitRequest \) returns \( \.taskwire\.v1\.SubmitResponse \)/);
    assert.match(svc.stdout, /rpc StreamEvents \( \.taskwire\.v1\.StreamEventsRequest \) returns \( stream \.taskwire\.v1\.StreamEventsResponse \)/);
    const schedule = await grpcurl(stack.broker.address, "describe", "taskwire.v1.Schedule");
    assert.equal(schedule.code, 0, schedule.stderr);
    assert.match(schedule.stdout, /\.google\.protobuf\.Timestamp next_fire_at = 6;/);
    const ts = await grpcurl(stack.broker.address, "describe", "google.protobuf.Timestamp");
    assert.equal(ts.code, 0, ts.stderr);
  });

  it("calls Submit and GetStatus with JSON, and checks health", async function () {
    const args = Buffer.from("[20, 22]").toString("base64");
    const sub = await grpcurl("-d", JSON.stringify({ task: add.taskName, args: { contentType: "application/json", data: args } }), stack.broker.address, "taskwire.v1.TaskService/Submit");
    assert.equal(sub.code, 0, sub.stderr);
    const id = (JSON.parse(sub.stdout) as { run: { id: string; state: string } }).run.id;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const got = await grpcurl("-d", JSON.stringify({ runId: id, waitTimeoutMs: "10000" }), stack.broker.address, "taskwire.v1.TaskService/GetStatus");
    assert.equal(got.code, 0, got.stderr);
    const result = (JSON.parse(got.stdout) as { run: { state: string; result: { data: string } } }).run;
    assert.equal(result.state, "RUN_STATE_COMPLETED");
    assert.equal(Buffer.from(result.result.data, "base64").toString(), "42");

    const bad = await grpcurl("-d", JSON.stringify({ task: "no spaces allowed" }), stack.broker.address, "taskwire.v1.TaskService/Submit");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Code: InvalidArgument/);

    for (const service of ["", "taskwire.v1.TaskService"]) {
      const h = await grpcurl("-d", JSON.stringify({ service }), stack.broker.address, "grpc.health.v1.Health/Check");
      assert.equal(h.code, 0, h.stderr);
      assert.equal((JSON.parse(h.stdout) as { status: string }).status, "SERVING");
    }
  });
});
