// TaskService.SubmitStream: the broker's side (message by message, limits,
// auth, its stop) with a raw stream, and the TS client's (one stream for its
// coalesced Submits, falling back to unary calls when the stream cannot
// carry them) against a real broker and against fake ones.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientDuplexStream, Metadata, Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, status, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { Client, RunState, Status, task, TaskwireError } from "@taskwire/client";
import { TaskRun, type SubmitBatchRequest, type SubmitRequest, type SubmitResponse, type SubmitStreamRequest, type SubmitStreamResponse, TaskServiceService } from "@taskwire/protocol";
import type { Broker } from "@taskwire/broker";
import type { Worker } from "@taskwire/worker";
import { startBroker, startNats, startWorker, uniq } from "../helpers/env.js";


type Stream = ClientDuplexStream<SubmitStreamRequest, SubmitStreamResponse>;

/** Counts the client's unary Submit / SubmitBatch calls and its SubmitStream messages (by wrapping its generated stub). */
function countCalls(client: Client): { unary: number; streams: number; messages: number[] } {
  const n = { unary: 0, streams: 0, messages: [] as number[] };
  const raw = client.raw as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const m of ["submit", "submitBatch"]) {
    const f = raw[m]!.bind(client.raw);
    raw[m] = (...a: unknown[]) => (n.unary++, f(...a));
  }
  const open = raw.submitStream!.bind(client.raw);
  raw.submitStream = (...a: unknown[]) => {
    n.streams++;
    const s = open(...a) as Stream;
    const write = s.write.bind(s) as (m: SubmitStreamRequest) => boolean;
    (s as { write: typeof write }).write = (m) => (n.messages.push(m.batch?.runs.length ?? 0), write(m));
    return s;
  };
  return n;
}

/** Collects a raw stream's answers by id, and how it ended. */
function collect(s: Stream): { answers: Map<number, SubmitStreamResponse>; ended: Promise<{ code: number; details: string }> } {
  const answers = new Map<number, SubmitStreamResponse>();
  s.on("data", (r: SubmitStreamResponse) => answers.set(r.id, r));
  const ended = new Promise<{ code: number; details: string }>((resolve) => {
    s.on("error", (e: { code: number; details: string }) => resolve({ code: e.code, details: e.details }));
    s.on("status", (st: { code: number; details: string }) => st.code === status.OK && resolve({ code: 0, details: st.details }));
  });
  return { answers, ended };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const req = (task: string, extra: Partial<SubmitRequest> = {}): SubmitRequest => ({ task, args: undefined, options: undefined, requestId: "", ...extra });

describe("SubmitStream", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: Broker;
  let worker: Worker;
  const double = task(uniq("double"), async (x: number) => x * 2);
  const readerToken = "stream-reader-token-0123456789";

  before(async function () {
    nats = await startNats();
    const dir = mkdtempSync(join(tmpdir(), "taskwire-stream-"));
    const tokensFile = join(dir, "tokens.yaml");
    writeFileSync(tokensFile, `"${readerToken}":\n  name: reader\n  scopes: [runs:read]\n"stream-submitter-token-0123456789":\n  name: submitter\n  scopes: [runs:submit, runs:read]\n`);
    broker = await startBroker(nats.url, { authTokensFile: tokensFile });
    worker = await startWorker(nats.url, [double]);
  });
  after(async function () {
    await worker?.stop();
    await broker?.stop();
    await nats?.cleanup();
  });

  const submitter = (extra: ConstructorParameters<typeof Client>[0] = {}): Client => new Client({ address: broker.address, token: "stream-submitter-token-0123456789", ...extra });

  it("carries a turn's Submits as one message on one stream, and later turns on the same stream; each run executes once", async function () {
    const client = submitter();
    const calls = countCalls(client);
    try {
      const handles = await Promise.all(Array.from({ length: 50 }, (_, i) => double.using(client).delay(i)));
      const lone = await double.using(client).delay(100);
      assert.equal(calls.unary, 0, "no unary calls");
      assert.equal(calls.streams, 1, "one stream");
      assert.deepEqual(calls.messages, [50, 1]);
      assert.equal(new Set([...handles, lone].map((h) => h.id)).size, 51);
      const results = await Promise.all([...handles, lone].map((h) => h.result({ timeoutMs: 20_000 })));
      assert.deepEqual(results, [...Array.from({ length: 50 }, (_, i) => i * 2), 200]);
    } finally {
      client.close();
    }
  });

  it("fails only the bad item, with the error a single Submit gives", async function () {
    const client = submitter();
    const calls = countCalls(client);
    try {
      const settled = await Promise.allSettled([double.using(client).delay(1), client.submit("", []), double.using(client).delay(2)]);
      assert.equal(settled[0].status, "fulfilled");
      assert.equal(settled[2].status, "fulfilled");
      assert.equal(settled[1].status, "rejected");
      const err = (settled[1] as PromiseRejectedResult).reason as TaskwireError;
      assert.equal(err.code, Status.INVALID_ARGUMENT);
      assert.doesNotMatch(err.message, /runs\[/, "the field as the caller wrote it, without a runs[i] prefix");
      assert.deepEqual(calls.messages, [3]);
      assert.equal(calls.unary, 0);
    } finally {
      client.close();
    }
  });

  it("ends an idle stream, and opens a new one for the next Submit", async function () {
    const client = submitter();
    const calls = countCalls(client);
    try {
      await double.using(client).delay(1);
      await new Promise((r) => setTimeout(r, 500));
      await double.using(client).delay(2);
      assert.equal(calls.streams, 2);
      assert.equal(calls.unary, 0);
    } finally {
      client.close();
    }
  });

  it("answers a bad message with its status and keeps the stream open; checks every message's token", async function () {
    const md = new Metadata();
    md.set("authorization", "Bearer stream-submitter-token-0123456789");
    const raw = new Client({ address: broker.address });
    const s = raw.raw.submitStream(md) as Stream;
    const { answers, ended } = collect(s);
    s.write({ id: 1, batch: { runs: [], independent: true }, traceContext: {} });
    s.write({ id: 2, batch: { runs: Array.from({ length: 1001 }, () => req(double.taskName)), independent: false }, traceContext: {} });
    s.write({ id: 3, batch: undefined, traceContext: {} });
    s.write({ id: 4, batch: { runs: [req(double.taskName)], independent: true }, traceContext: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, "v"])) });
    s.write({ id: 2 ** 53 - 1, batch: { runs: [req(double.taskName), req("")], independent: false }, traceContext: {} });
    await until(() => answers.size === 5);
    assert.equal(answers.get(1)!.code, Status.INVALID_ARGUMENT);
    assert.match(answers.get(1)!.message, /runs.*is empty/);
    assert.match(answers.get(2)!.message, /1001 runs; the limit is 1000/);
    assert.equal(answers.get(3)!.code, Status.INVALID_ARGUMENT);
    assert.equal(answers.get(4)!.code, Status.INVALID_ARGUMENT);
    assert.match(answers.get(4)!.message, /trace_context.*9 entries; the limit is 8/);
    const ok = answers.get(2 ** 53 - 1)!;
    assert.equal(ok.code, Status.OK, "the batch's independent flag is ignored: items stand alone");
    assert.equal(ok.batch!.statuses[0]!.code, Status.OK);
    assert.equal(ok.batch!.runs[0]!.run!.state, RunState.RUN_STATE_PENDING);
    assert.equal(ok.batch!.statuses[1]!.code, Status.INVALID_ARGUMENT);
    s.end();
    assert.deepEqual((await ended).code, 0, "a half-closed stream ends with OK");

    // A token that may only read: each message is refused, the stream stays open.
    const rmd = new Metadata();
    rmd.set("authorization", `Bearer ${readerToken}`);
    const r = raw.raw.submitStream(rmd) as Stream;
    const rc = collect(r);
    r.write({ id: 7, batch: { runs: [req(double.taskName)], independent: true }, traceContext: {} });
    r.write({ id: 8, batch: { runs: [req(double.taskName)], independent: true }, traceContext: {} });
    await until(() => rc.answers.size === 2);
    assert.equal(rc.answers.get(7)!.code, Status.PERMISSION_DENIED);
    assert.match(rc.answers.get(7)!.message, /Submit needs the scope "runs:submit"/);
    r.end();
    assert.equal((await rc.ended).code, 0);

    // Through the SDK: the caller gets PERMISSION_DENIED, not a retry.
    const reader = new Client({ address: broker.address, token: readerToken });
    try {
      await assert.rejects(double.using(reader).delay(1), (e: TaskwireError) => e.code === Status.PERMISSION_DENIED);
    } finally {
      reader.close();
      raw.close();
    }
  });

  it("holds at most 16 open streams per connection", async function () {
    const raw = new Client({ address: broker.address });
    const md = new Metadata();
    md.set("authorization", "Bearer stream-submitter-token-0123456789");
    try {
      const streams = Array.from({ length: 17 }, () => raw.raw.submitStream(md) as Stream);
      const c = streams.map(collect);
      // Each stream opens with its first message; the 17th is refused.
      streams.forEach((s, i) => s.write({ id: i, batch: { runs: [req(double.taskName)], independent: true }, traceContext: {} }));
      const last = await c[16]!.ended;
      assert.equal(last.code, Status.RESOURCE_EXHAUSTED);
      assert.match(last.details, /16 open SubmitStream calls/);
      await until(() => c.slice(0, 16).every((x) => x.answers.size === 1));
      for (const s of streams.slice(0, 16)) s.end();
      await Promise.all(c.slice(0, 16).map((x) => x.ended));
    } finally {
      raw.close();
    }
  });

  it("the broker's stop answers what it holds, then ends the stream with UNAVAILABLE", async function () {
    const b2 = await startBroker(nats.url);
    const raw = new Client({ address: b2.address });
    const s = raw.raw.submitStream(new Metadata()) as Stream;
    const { answers, ended } = collect(s);
    for (let id = 1; id <= 20; id++) s.write({ id, batch: { runs: [req(double.taskName)], independent: true }, traceContext: {} });
    await until(() => answers.size >= 1);
    await b2.stop();
    const end = await ended;
    assert.equal(end.code, Status.UNAVAILABLE);
    assert.match(end.details, /shutting down/);
    for (const a of answers.values()) assert.equal(a.code, Status.OK, "every answer sent is a real one");
    raw.close();
  });
});

describe("SubmitStream: the client against brokers that cannot carry it", function () {
  const run = TaskRun.fromPartial({ id: "0190a5c8-0000-7000-8000-000000000001", task: "t", state: RunState.RUN_STATE_PENDING });

  /** A fake TaskService: unary Submit / SubmitBatch answer at once; SubmitStream is absent, or breaks after reading `breakAfter` messages. */
  async function fake(stream: "absent" | "breaks" | "silent"): Promise<{ address: string; unary: number; read: number; stop(): void }> {
    const server = new Server();
    const state = { unary: 0, read: 0 };
    const impl: UntypedServiceImplementation = {
      submit: (_c: ServerUnaryCall<SubmitRequest, SubmitResponse>, cb: sendUnaryData<SubmitResponse>) => {
        state.unary++;
        cb(null, { run, deduplicated: false });
      },
      submitBatch: (c: ServerUnaryCall<SubmitBatchRequest, unknown>, cb: sendUnaryData<unknown>) => {
        state.unary++;
        cb(null, { runs: c.request.runs.map(() => ({ run, deduplicated: false })), statuses: c.request.runs.map(() => ({ code: 0, message: "" })) });
      },
    };
    if (stream === "breaks")
      impl.submitStream = (call: ServerDuplexStream<SubmitStreamRequest, SubmitStreamResponse>) =>
        call.on("data", () => {
          state.read++;
          call.emit("error", { code: status.UNAVAILABLE, details: "connection to NATS lost" });
        });
    if (stream === "silent")
      impl.submitStream = (call: ServerDuplexStream<SubmitStreamRequest, SubmitStreamResponse>) =>
        call.on("data", () => {
          state.read++; // read, never answered
        });
    server.addService(TaskServiceService, impl);
    const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    return {
      address: `127.0.0.1:${port}`,
      get unary() {
        return state.unary;
      },
      get read() {
        return state.read;
      },
      stop: () => server.forceShutdown(),
    };
  }

  it("an unreachable broker: every waiting caller gets the error", async function () {
    const client = new Client({ address: "127.0.0.1:1", callTimeoutMs: 2_000 });
    try {
      const settled = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => client.submit("t", [i])));
      for (const s of settled) {
        assert.equal(s.status, "rejected");
        const err = (s as PromiseRejectedResult).reason as unknown;
        assert.ok(err instanceof TaskwireError && (err.code === Status.UNAVAILABLE || err.code === Status.DEADLINE_EXCEEDED), String(err));
      }
    } finally {
      client.close();
    }
  });

  it("a broker without SubmitStream: Submits go as unary calls, from then on", async function () {
    const f = await fake("absent");
    const client = new Client({ address: f.address });
    const calls = countCalls(client);
    try {
      const [a, b] = await Promise.all([client.submit("t", [1]), client.submit("t", [2])]);
      assert.equal(a.id, run!.id);
      assert.equal(b.id, run!.id);
      assert.equal(calls.streams, 1);
      await client.submit("t", [3]);
      assert.equal(calls.streams, 1, "not tried again");
      assert.equal(f.unary, 2, "one SubmitBatch for the first turn's two, one Submit after");
    } finally {
      client.close();
      f.stop();
    }
  });

  it("a stream that stops answering: after callTimeoutMs the item goes as a unary call, the stream is cancelled, the next Submits go unary", async function () {
    const f = await fake("silent");
    const client = new Client({ address: f.address, callTimeoutMs: 500 });
    const calls = countCalls(client);
    try {
      const t0 = Date.now();
      const h = await client.submit("t", [1]);
      assert.equal(h.id, run!.id);
      assert.ok(Date.now() - t0 >= 450, "answered through the unary call after the stream's deadline");
      assert.equal(f.read, 1);
      assert.equal(f.unary, 1);
      await client.submit("t", [2]);
      assert.equal(calls.streams, 1, "no new stream during the backoff");
      assert.equal(f.unary, 2);
    } finally {
      client.close();
      f.stop();
    }
  });

  it("a stream that breaks: items with a request id go again as unary calls; without one they fail (they may have been enqueued)", async function () {
    const f = await fake("breaks");
    const client = new Client({ address: f.address });
    try {
      const h = await client.submit("t", [1]);
      assert.equal(h.id, run!.id);
      assert.equal(f.read, 1);
      assert.equal(f.unary, 1, "sent again as a unary Submit");
    } finally {
      client.close();
    }
    const noIds = new Client({ address: f.address, requestIds: false });
    try {
      await new Promise((r) => setTimeout(r, 10));
      await assert.rejects(noIds.submit("t", [1]), (e: TaskwireError) => e.code === Status.UNAVAILABLE && /NATS lost/.test(e.message));
      assert.equal(f.unary, 1, "not sent again");
    } finally {
      noIds.close();
      f.stop();
    }
  });
});
