import assert from "node:assert/strict";
import { SpanKind, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { Client, task } from "@taskwire/client";
import type { Broker } from "@taskwire/broker";
import type { Worker } from "@taskwire/worker";
import { startBroker, startNats, startWorker, uniq, waitFor } from "../helpers/env.js";
import { useTracerProvider } from "../helpers/otel.js";

describe("tracing: one submit is one trace across client, broker and worker", function () {
  const exporter = new InMemorySpanExporter();
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: Broker;
  let worker: Worker;
  let client: Client;
  let unaryClient: Client;
  const add = task(uniq("traced"), async (a: number, b: number) => a + b);
  let provider: BasicTracerProvider | undefined;
  let release: (() => void) | undefined;

  before(async function () {
    provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    release = useTracerProvider(provider);
    nats = await startNats();
    broker = await startBroker(nats.url);
    worker = await startWorker(nats.url, [add]);
    client = new Client({ address: broker.address });
    unaryClient = new Client({ address: broker.address, submitStream: false });
  });

  after(async function () {
    client?.close();
    unaryClient?.close();
    await worker?.stop();
    await broker?.stop();
    await nats?.cleanup();
    release?.();
    await provider?.shutdown();
  });

  it("links client → broker → producer → worker spans as parent and child, over the client's SubmitStream and as unary calls", async function () {
    let unary = 0;
    const raw = client.raw as unknown as { submit: (...a: unknown[]) => unknown };
    const submit = raw.submit.bind(client.raw);
    raw.submit = (...a: unknown[]) => (unary++, submit(...a));
    await linksSpans(client);
    assert.equal(unary, 0, "the default client's traced Submit went over its SubmitStream");
    await linksSpans(unaryClient);
  });

  async function linksSpans(client: Client): Promise<void> {
    const app = trace.getTracer("test-app");
    const run = await app.startActiveSpan("http POST /sum", async (root) => {
      try {
        return await add.using(client).delay(1, 2);
      } finally {
        root.end();
      }
    });
    assert.equal(await run.result({ timeoutMs: 10_000 }), 3);
    const find = (pred: (s: ReadableSpan) => boolean): ReadableSpan | undefined => exporter.getFinishedSpans().find(pred);
    const consumer = await waitFor(() => find((s) => s.kind === SpanKind.CONSUMER && s.attributes["taskwire.run_id"] === run.id), "worker span");
    const producer = find((s) => s.kind === SpanKind.PRODUCER && s.attributes["messaging.message.id"] === run.id);
    const traceId = consumer.spanContext().traceId;
    const root = find((s) => s.name === "http POST /sum" && s.spanContext().traceId === traceId);
    assert.ok(root && producer);
    const clientSpan = find((s) => s.kind === SpanKind.CLIENT && s.name === "taskwire.v1.TaskService/Submit" && s.spanContext().traceId === traceId);
    const serverSpan = find((s) => s.kind === SpanKind.SERVER && s.name === "taskwire.v1.TaskService/Submit" && s.spanContext().traceId === traceId);
    assert.ok(clientSpan && serverSpan, "client and server spans are in the caller's trace");
    const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;
    assert.equal(parentOf(clientSpan), root.spanContext().spanId);
    assert.equal(parentOf(serverSpan), clientSpan.spanContext().spanId);
    assert.equal(parentOf(producer), serverSpan.spanContext().spanId);
    assert.equal(producer.spanContext().traceId, traceId);
    assert.equal(consumer.spanContext().traceId, traceId, "the worker's span joins the same trace");
    assert.equal(parentOf(consumer), producer.spanContext().spanId);
    assert.equal(consumer.name, `process taskwire.run.default.${add.taskName}`);
    assert.equal(consumer.attributes["messaging.system"], "nats");
    assert.equal(producer.attributes["messaging.destination.name"], `taskwire.run.default.${add.taskName}`);
  }

  it("does not coalesce Submits made inside traces: concurrent submits keep their own trace", async function () {
    const app = trace.getTracer("test-app");
    const inRoot = (name: string, x: number) =>
      app.startActiveSpan(name, async (root) => {
        try {
          return { run: await add.using(client).delay(x, x), traceId: root.spanContext().traceId };
        } finally {
          root.end();
        }
      });
    const both = await Promise.all([inRoot("request A", 1), inRoot("request B", 2)]);
    assert.notEqual(both[0].traceId, both[1].traceId);
    for (const { run, traceId } of both) {
      await run.result({ timeoutMs: 10_000 });
      const consumer = await waitFor(() => exporter.getFinishedSpans().find((s) => s.kind === SpanKind.CONSUMER && s.attributes["taskwire.run_id"] === run.id), "worker span");
      assert.equal(consumer.spanContext().traceId, traceId, "each run joins its own caller's trace");
    }
    assert.ok(!exporter.getFinishedSpans().some((s) => s.name === "taskwire.v1.TaskService/SubmitBatch"), "no SubmitBatch call");
  });
});
