import assert from "node:assert/strict";
import { Server, ServerCredentials, status, type ServiceError, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { Client, Status, TaskwireError } from "@taskwire/client";
import { RunState, type SubmitBatchRequest, type SubmitBatchResponse, type SubmitRequest, type SubmitResponse, TaskRun, TaskServiceService } from "@taskwire/protocol";

/** A fake broker whose Submit fails with the queued errors first, then answers; it records every request. */
class FakeBroker {
  readonly server = new Server();
  readonly submits: SubmitRequest[] = [];
  readonly batches: SubmitBatchRequest[] = [];
  failures: Array<{ code: status; details: string }> = [];
  itemFailures: Array<{ code: status; message: string }> = [];
  address = "";

  async start(): Promise<void> {
    const fail = (cb: sendUnaryData<never>): boolean => {
      const f = this.failures.shift();
      if (!f) return false;
      cb(Object.assign(new Error(f.details), { code: f.code, details: f.details, metadata: undefined }) as unknown as ServiceError, null);
      return true;
    };
    const run = (r: SubmitRequest): TaskRun => TaskRun.fromPartial({ id: `run-${r.requestId || r.options?.idempotencyKey || "none"}`, task: r.task, state: RunState.RUN_STATE_PENDING });
    const impl: UntypedServiceImplementation = {
      submit: (call: ServerUnaryCall<SubmitRequest, SubmitResponse>, cb: sendUnaryData<SubmitResponse>) => {
        this.submits.push(call.request);
        if (!fail(cb as sendUnaryData<never>)) cb(null, { run: run(call.request), deduplicated: this.submits.length > 1 });
      },
      submitBatch: (call: ServerUnaryCall<SubmitBatchRequest, SubmitBatchResponse>, cb: sendUnaryData<SubmitBatchResponse>) => {
        this.batches.push(call.request);
        if (fail(cb as sendUnaryData<never>)) return;
        const statuses = call.request.runs.map(() => {
          const f = this.itemFailures.shift();
          return f ? { code: f.code, message: f.message } : { code: 0, message: "" };
        });
        cb(null, { runs: call.request.runs.map((r, i) => ({ run: statuses[i]?.code === 0 ? run(r) : undefined, deduplicated: false })), statuses });
      },
    };
    this.server.addService(TaskServiceService, impl);
    const port = await new Promise<number>((resolve, reject) => this.server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    this.address = `127.0.0.1:${port}`;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

describe("client retries and default request ids", function () {
  let broker: FakeBroker;
  beforeEach(async () => {
    broker = new FakeBroker();
    await broker.start();
  });
  afterEach(() => broker.stop());

  it("gives a Submit a request id (a UUIDv7) and retries UNAVAILABLE with the same id, sending no key", async () => {
    broker.failures.push({ code: status.UNAVAILABLE, details: "NATS is unreachable" });
    const client = new Client({ address: broker.address, coalesceSubmits: false });
    try {
      const h = await client.submit("t", [1]);
      assert.equal(broker.submits.length, 2);
      const [k1, k2] = broker.submits.map((r) => r.requestId);
      assert.match(k1 ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(k1, k2, "the retry carries the same request id");
      assert.deepEqual(broker.submits.map((r) => r.options?.idempotencyKey), ["", ""], "no idempotency key");
      assert.equal(h.id, `run-${k1}`);
    } finally {
      client.close();
    }
  });

  it("keeps the caller's key, and retries the documented ABORTED only", async () => {
    broker.failures.push({ code: status.ABORTED, details: "idempotency key changed concurrently; retry the call" });
    const client = new Client({ address: broker.address, coalesceSubmits: false });
    try {
      await client.submit("t", [], { idempotencyKey: "mine" });
      assert.deepEqual(broker.submits.map((r) => r.options?.idempotencyKey), ["mine", "mine"]);
      broker.failures.push({ code: status.ABORTED, details: "something else" });
      await assert.rejects(client.submit("t", [], { idempotencyKey: "mine2" }), (e: unknown) => e instanceof TaskwireError && e.code === Status.ABORTED);
      assert.equal(broker.submits.length, 3);
    } finally {
      client.close();
    }
  });

  it("gives up after maxAttempts, and not at all when retries are off", async () => {
    broker.failures.push(...Array.from({ length: 10 }, () => ({ code: status.UNAVAILABLE, details: "down" })));
    const client = new Client({ address: broker.address, coalesceSubmits: false, callRetry: { maxAttempts: 3, initialBackoffMs: 1 } });
    const off = new Client({ address: broker.address, coalesceSubmits: false, callRetry: false, requestIds: false });
    try {
      await assert.rejects(client.submit("t"), (e: unknown) => e instanceof TaskwireError && e.code === Status.UNAVAILABLE);
      assert.equal(broker.submits.length, 3);
      await assert.rejects(off.submit("t"), (e: unknown) => e instanceof TaskwireError && e.code === Status.UNAVAILABLE);
      assert.equal(broker.submits.length, 4);
      assert.equal(broker.submits[3]?.options?.idempotencyKey, "", "no key when request ids are off");
      assert.equal(broker.submits[3]?.requestId, "", "no request id when request ids are off");
    } finally {
      client.close();
      off.close();
    }
  });

  it("resends a coalesced item that failed UNAVAILABLE, with its request id", async () => {
    broker.itemFailures.push({ code: status.OK, message: "" }, { code: status.UNAVAILABLE, message: "NATS is unreachable" });
    const client = new Client({ address: broker.address });
    try {
      const hs = await Promise.all([client.submit("t", [1]), client.submit("t", [2])]);
      assert.equal(broker.batches.length, 1);
      assert.equal(broker.submits.length, 1, "the failed item is sent again on its own");
      assert.equal(broker.submits[0]?.requestId, broker.batches[0]?.runs[1]?.requestId);
      assert.match(broker.submits[0]?.requestId ?? "", /^[0-9a-f-]{36}$/);
      assert.equal(hs.length, 2);
    } finally {
      client.close();
    }
  });
});
