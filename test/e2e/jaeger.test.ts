import assert from "node:assert/strict";
import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Client } from "@taskwire/client";
import { Jaeger } from "@taskwire/cli";
import { freePort, type Proc, spawnCli, startNats, waitFor } from "../helpers/env.js";
import { useTracerProvider } from "../helpers/otel.js";
import { run } from "../helpers/tools.js";
import { REPO } from "../helpers/env.js";

/** A span as Jaeger's query API (`/api/traces/<id>`) answers it. */
interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; spanID: string }>;
  processID: string;
  tags: Array<{ key: string; value: unknown }>;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

const tag = (s: JaegerSpan, key: string): unknown => s.tags.find((t) => t.key === key)?.value;

/**
 * A real Jaeger (v2, OTLP over HTTP, memory storage) receiving the traces
 * of a test process (the caller), a `taskwire broker` and a `taskwire
 * worker` process, each exporting OTLP as configured by OTEL_* variables;
 * and `taskwire submit` starting a trace of its own. Asserted through
 * Jaeger's query API: one trace, the right spans, the right parents.
 */
describe("Jaeger: one submit is one trace across caller, broker, publish and worker", function () {
  this.timeout(90_000);
  let jaeger: Jaeger;
  let nats: Awaited<ReturnType<typeof startNats>>;
  let broker: Proc;
  let worker: Proc;
  let address: string;
  let provider: BasicTracerProvider;
  let release: (() => void) | undefined;
  const otel = (): Record<string, string> => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpEndpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    // Export within 100 ms instead of 5 s.
    OTEL_BSP_SCHEDULE_DELAY: "100",
  });

  before(async function () {
    jaeger = await new Jaeger().start();
    nats = await startNats();
    const port = await freePort();
    address = `127.0.0.1:${port}`;
    broker = spawnCli(["broker", "--listen", address, "--nats", nats.url], otel());
    worker = spawnCli(["worker", "test/fixtures/tasks.ts", "--nats", nats.url, "--heartbeat-ms", "500"], otel());
    await waitFor(() => broker.output().includes("taskwire broker listening"), "broker", 30_000);
    await waitFor(() => worker.output().includes("taskwire worker started"), "worker", 30_000);
    provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "taskwire-test-app" }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${jaeger.otlpHttpEndpoint}/v1/traces` }))],
    });
    release = useTracerProvider(provider);
  });

  after(async function () {
    release?.();
    await provider?.shutdown();
    await worker?.kill();
    await broker?.kill();
    await nats?.cleanup();
    await jaeger?.stop();
  });

  /** The trace once Jaeger holds a span matching `complete`. */
  const traceOf = (traceId: string, complete: (t: JaegerTrace) => boolean): Promise<JaegerTrace> =>
    waitFor(
      async () => {
        const res = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`);
        if (!res.ok) return undefined;
        const t = ((await res.json()) as { data: JaegerTrace[] }).data[0];
        return t && complete(t) ? t : undefined;
      },
      `trace ${traceId} in Jaeger`,
      30_000,
      200,
    );

  /** Checks the chain client → broker Submit → publish → worker process; returns the client span. */
  const assertChain = (t: JaegerTrace, runId: string, clientService: string): JaegerSpan => {
    const service = (s: JaegerSpan): string => t.processes[s.processID]?.serviceName ?? "";
    const find = (what: string, pred: (s: JaegerSpan) => boolean): JaegerSpan => {
      const s = t.spans.find(pred);
      assert.ok(s, `${what} in trace ${t.traceID}: ${t.spans.map((x) => `${service(x)}:${x.operationName}:${String(tag(x, "span.kind"))}`).join(", ")}`);
      return s;
    };
    const parent = (s: JaegerSpan): string | undefined => s.references.find((r) => r.refType === "CHILD_OF")?.spanID;
    const client = find("the client span", (s) => service(s) === clientService && tag(s, "span.kind") === "client" && s.operationName === "taskwire.v1.TaskService/Submit");
    const server = find("the broker's Submit span", (s) => service(s) === "taskwire-broker" && tag(s, "span.kind") === "server" && s.operationName === "taskwire.v1.TaskService/Submit");
    const producer = find("the publish span", (s) => service(s) === "taskwire-broker" && tag(s, "span.kind") === "producer" && tag(s, "messaging.message.id") === runId);
    const consumer = find("the worker's process span", (s) => service(s) === "taskwire-worker" && tag(s, "span.kind") === "consumer" && tag(s, "taskwire.run_id") === runId);
    assert.equal(parent(server), client.spanID, "broker Submit ← client");
    assert.equal(parent(producer), server.spanID, "publish ← broker Submit");
    assert.equal(parent(consumer), producer.spanID, "worker process ← publish");
    assert.equal(producer.operationName, "publish taskwire.run.default.e2e-add");
    assert.equal(consumer.operationName, "process taskwire.run.default.e2e-add");
    assert.equal(tag(consumer, "messaging.system"), "nats");
    return client;
  };

  it("links the caller's span, the TS client's, the broker's Submit and publish and the worker's process", async function () {
    const client = new Client({ address });
    try {
      const app = trace.getTracer("test-app");
      const { runId, traceId, rootId } = await app.startActiveSpan("POST /reports", async (root) => {
        try {
          const r = await client.submit<number>("e2e-add", [2, 3]);
          assert.equal(await r.result({ timeoutMs: 15_000 }), 5);
          return { runId: r.id, traceId: root.spanContext().traceId, rootId: root.spanContext().spanId };
        } finally {
          root.end();
        }
      });
      const t = await traceOf(traceId, (x) => x.spans.some((s) => tag(s, "span.kind") === "consumer") && x.spans.some((s) => s.operationName === "POST /reports"));
      const clientSpan = assertChain(t, runId, "taskwire-test-app");
      assert.equal(clientSpan.references.find((r) => r.refType === "CHILD_OF")?.spanID, rootId, "client ← the caller's own span");
    } finally {
      client.close();
    }
  });

  it("`taskwire submit` starts the trace with a client span when OTEL_* is set", async function () {
    const r = await run(process.execPath, ["--conditions=taskwire-source", "--import", "tsx", `${REPO}/cli/src/main.ts`, "--address", address, "submit", "e2e-add", "--args", "[20, 22]", "--wait", "--json"], {
      env: { ...process.env, ...otel(), TASKWIRE_LOG_LEVEL: "warn" },
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const runId = (JSON.parse(r.stdout) as { id: string }).id;
    // Find the CLI's trace by its service, then the whole trace by id.
    const traceId = await waitFor(
      async () => {
        const res = await fetch(`${jaeger.queryUrl}/api/traces?service=taskwire-cli&limit=20&lookback=1h`);
        if (!res.ok) return undefined;
        const traces = ((await res.json()) as { data: JaegerTrace[] | null }).data ?? [];
        return traces.find((t) => t.spans.some((s) => s.operationName === "taskwire.v1.TaskService/Submit"))?.traceID;
      },
      "the CLI's trace",
      30_000,
      200,
    );
    const t = await traceOf(traceId, (x) => x.spans.some((s) => tag(s, "span.kind") === "consumer"));
    const clientSpan = assertChain(t, runId, "taskwire-cli");
    assert.equal(clientSpan.references.length, 0, "the CLI's client span is the trace's root");
  });
});
