import { Command, InvalidArgumentError, Option } from "commander";
import { Broker } from "@taskwire/broker";
import { Client, RunHandle, RunState, Status, TaskwireError, isTerminalState, type ApplyOptions, type TaskRun } from "@taskwire/client";
import { SubmitRequest } from "@taskwire/protocol";
import { toSubmitOptions } from "@taskwire/client/internal";
import { serve } from "@taskwire/worker";
import { addAutomationCommands } from "./automation.js";
import { runDev } from "./dev.js";
import { Jaeger } from "./jaeger.js";
import { eventText, runJson, runText, stateName, table } from "./format.js";
import { loadTaskModules } from "./load.js";
import { startTelemetry } from "./telemetry.js";

const int = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

function parseState(s: string): RunState {
  const key = `RUN_STATE_${s.toUpperCase().replace(/^RUN_STATE_/, "")}` as keyof typeof RunState;
  const v = RunState[key];
  if (typeof v !== "number") throw new InvalidArgumentError(`unknown state "${s}"; use one of scheduled, pending, running, awaiting_retry, completed, failed, cancelled`);
  return v;
}

const program = new Command()
  .name("taskwire")
  .description("taskwire: durable background tasks over gRPC and NATS JetStream")
  .option("--address <host:port>", "broker address for client commands (env TASKWIRE_ADDRESS)", process.env.TASKWIRE_ADDRESS ?? "localhost:50051")
  .showHelpAfterError();

const client = (): Client => new Client({ address: program.opts<{ address: string }>().address });
const print = (json: boolean, value: unknown, text: string): void => console.log(json ? JSON.stringify(value, null, 2) : text);

program
  .command("dev")
  .description("start nats-server (store under .taskwire/), a broker and optionally a worker, for local development")
  .option("--worker <module...>", "task module(s) for an in-process worker")
  .option("--listen <host:port>", "broker listen address (env TASKWIRE_LISTEN)", process.env.TASKWIRE_LISTEN ?? "127.0.0.1:50051")
  .option("--nats-port <port>", "nats-server port (a free one if busy)", int("--nats-port"), 4222)
  .option("--data-dir <dir>", "where the NATS store lives", ".taskwire")
  .option("--concurrency <n>", "worker concurrency", int("--concurrency"), 10)
  .option("--http <host:port>", "broker HTTP address: web UI, JSON API, /metrics (a free port if busy; off: none) (env TASKWIRE_HTTP_LISTEN)", process.env.TASKWIRE_HTTP_LISTEN || "127.0.0.1:8050")
  .option("--jaeger", "start Jaeger (.tools/bin/jaeger or PATH; make setup builds it) and export the stack's traces to it")
  .action(async (o: { worker?: string[]; listen: string; natsPort: number; dataDir: string; concurrency: number; http: string; jaeger?: boolean }) => {
    let jaeger: Jaeger | undefined;
    if (o.jaeger) {
      jaeger = await new Jaeger().start();
      // The OpenTelemetry SDK reads these when it starts (just below).
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = jaeger.otlpHttpEndpoint;
      process.env.OTEL_EXPORTER_OTLP_PROTOCOL = "http/protobuf";
      delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
      // Spans show up in Jaeger within half a second, not the SDK's default 5 s.
      process.env.OTEL_BSP_SCHEDULE_DELAY ??= "500";
    }
    const stopTelemetry = await startTelemetry("taskwire-dev");
    try {
      await runDev({ workers: o.worker ?? [], listen: o.listen, natsPort: o.natsPort, dataDir: o.dataDir, concurrency: o.concurrency, http: o.http, jaeger });
    } finally {
      await stopTelemetry();
      await jaeger?.stop();
    }
  });

program
  .command("broker")
  .description("run the gRPC broker")
  .option("--listen <host:port>", "listen address (env TASKWIRE_LISTEN)", process.env.TASKWIRE_LISTEN ?? "127.0.0.1:50051")
  .option("--nats <url>", "NATS URL(s), comma separated (env TASKWIRE_NATS_URL)", process.env.TASKWIRE_NATS_URL ?? "nats://127.0.0.1:4222")
  .option("--max-payload-bytes <n>", "largest accepted args payload in bytes (env TASKWIRE_MAX_PAYLOAD_BYTES)", int("--max-payload-bytes"))
  .option("--replicas <n>", "stream/bucket replicas when creating them (env TASKWIRE_REPLICAS)", int("--replicas"))
  .option("--no-scheduler", "do not release delayed runs from this broker")
  .option("--tls-cert <file>", "TLS certificate, PEM; re-read when it changes (env TASKWIRE_TLS_CERT)")
  .option("--tls-key <file>", "TLS private key, PEM (env TASKWIRE_TLS_KEY)")
  .option("--tls-client-ca <file>", "require client certificates signed by this CA, PEM: mTLS (env TASKWIRE_TLS_CLIENT_CA)")
  .option("--auth-jwks-file <file>", "verify JWT bearer tokens against this JWKS file (env TASKWIRE_AUTH_JWKS_FILE)")
  .option("--auth-jwks-url <url>", "verify JWT bearer tokens against this JWKS URL (env TASKWIRE_AUTH_JWKS_URL)")
  .option("--auth-issuer <iss>", "required JWT issuer (env TASKWIRE_AUTH_ISSUER)")
  .option("--auth-audience <aud>", "required JWT audience (env TASKWIRE_AUTH_AUDIENCE)")
  .option("--auth-tokens-file <file>", "static API tokens, YAML or JSON (env TASKWIRE_AUTH_TOKENS_FILE); the JWT secret is env-only: TASKWIRE_AUTH_JWT_SECRET")
  .option("--no-reflection", "do not serve gRPC server reflection (env TASKWIRE_REFLECTION=false)")
  .option("--insecure", "allow a non-loopback address without TLS and auth (env TASKWIRE_INSECURE=true)")
  .option("--http <host:port>", "HTTP address of /metrics, /healthz, /readyz, the JSON API (/v1/) and the web UI; off: none (env TASKWIRE_HTTP_LISTEN, default 127.0.0.1:8050)")
  .option("--ui-trace-url <url>", "the UI's link to a run's trace, with {traceId}, e.g. http://jaeger:16686/trace/{traceId} (env TASKWIRE_UI_TRACE_URL)")
  .action(async function (
    this: Command,
    o: { listen: string; nats: string; maxPayloadBytes?: number; replicas?: number; scheduler: boolean; tlsCert?: string; tlsKey?: string; tlsClientCa?: string; authJwksFile?: string; authJwksUrl?: string; authIssuer?: string; authAudience?: string; authTokensFile?: string; reflection: boolean; insecure?: boolean; http?: string; uiTraceUrl?: string },
  ) {
    const stopTelemetry = await startTelemetry("taskwire-broker");
    const broker = new Broker({
      listen: o.listen,
      natsUrl: o.nats,
      maxPayloadBytes: o.maxPayloadBytes,
      replicas: o.replicas,
      scheduler: o.scheduler,
      tlsCert: o.tlsCert,
      tlsKey: o.tlsKey,
      tlsClientCa: o.tlsClientCa,
      authJwksFile: o.authJwksFile,
      authJwksUrl: o.authJwksUrl,
      authIssuer: o.authIssuer,
      authAudience: o.authAudience,
      authTokensFile: o.authTokensFile,
      // Only an explicit flag overrides TASKWIRE_REFLECTION / TASKWIRE_INSECURE.
      reflection: this.getOptionValueSource("reflection") === "cli" ? o.reflection : undefined,
      insecure: o.insecure ? true : undefined,
      http: o.http,
      uiTraceUrl: o.uiTraceUrl,
    });
    await broker.start();
    await new Promise<void>((resolve) => {
      process.once("SIGTERM", () => resolve());
      process.once("SIGINT", () => resolve());
    });
    await broker.stop();
    await stopTelemetry();
  });

program
  .command("worker")
  .description("serve the tasks exported by MODULE(s) (.ts loads without a build step)")
  .argument("<module...>", "task modules")
  .option("--concurrency <n>", "runs executed at once (env TASKWIRE_CONCURRENCY)", int("--concurrency"))
  .option("--queues <names>", "comma-separated queues to serve (env TASKWIRE_QUEUES)", (v: string) => v.split(","))
  .option("--nats <url>", "NATS URL(s) (env TASKWIRE_NATS_URL)", process.env.TASKWIRE_NATS_URL)
  .option("--heartbeat-ms <ms>", "heartbeat interval; a dead worker's runs move on within 2× (env TASKWIRE_HEARTBEAT_MS)", int("--heartbeat-ms"))
  .option("--shutdown-grace-ms <ms>", "how long SIGTERM waits for in-flight runs (env TASKWIRE_SHUTDOWN_GRACE_MS)", int("--shutdown-grace-ms"))
  .option("--http <host:port>", "HTTP address of /metrics, /healthz and /readyz; off by default (env TASKWIRE_WORKER_HTTP_LISTEN)")
  .action(async (modules: string[], o: { concurrency?: number; queues?: string[]; nats?: string; heartbeatMs?: number; shutdownGraceMs?: number; http?: string }) => {
    const stopTelemetry = await startTelemetry("taskwire-worker");
    const tasks = await loadTaskModules(modules);
    await serve(tasks, { concurrency: o.concurrency, queues: o.queues, natsUrl: o.nats, heartbeatMs: o.heartbeatMs, shutdownGraceMs: o.shutdownGraceMs, http: o.http });
    await stopTelemetry();
  });

program
  .command("submit")
  .description("submit a run of TASK")
  .argument("<task>", "task name")
  .option("--args <json>", "arguments as a JSON array (or one JSON value)", "[]")
  .option("--wait", "wait for the run to finish and print its result")
  .option("--timeout-ms <ms>", "with --wait: how long to wait", int("--timeout-ms"), 60_000)
  .option("--idempotency-key <key>", "same key → same run")
  .option("--delay-ms <ms>", "start no earlier than this many ms from now", int("--delay-ms"))
  .option("--queue <name>", "queue to route the run to")
  .option("--retries <n>", "retries after the first attempt", int("--retries"))
  .option("--retry-delay-ms <ms>", "delay between retries", int("--retry-delay-ms"))
  .option("--run-timeout-ms <ms>", "execution timeout per attempt", int("--run-timeout-ms"))
  .option("--cache-ttl-ms <ms>", "answer from a cached result up to this old (key: --cache-key, else the args)", int("--cache-ttl-ms"))
  .option("--cache-key <key>", "cache key")
  .option("--json", "print JSON")
  .action(async (task: string, o: { args: string; wait?: boolean; timeoutMs: number; idempotencyKey?: string; delayMs?: number; queue?: string; retries?: number; retryDelayMs?: number; runTimeoutMs?: number; json?: boolean; cacheTtlMs?: number; cacheKey?: string }) => {
    // With OTEL_* set, the submit is traced from here: a client span, then the broker's, the publish and the worker's.
    const stopTelemetry = await startTelemetry("taskwire-cli");
    const c = client();
    const opts: ApplyOptions = { cacheTtlMs: o.cacheTtlMs, cacheKey: o.cacheKey, idempotencyKey: o.idempotencyKey, delayMs: o.delayMs, queue: o.queue, retries: o.retries, retryDelaysMs: o.retryDelayMs !== undefined ? [o.retryDelayMs] : undefined, timeoutMs: o.runTimeoutMs };
    // Args go to the broker as typed, so it validates them (and says what is wrong).
    const out = await c.submitRaw(SubmitRequest.fromPartial({ task, args: { contentType: "application/json", data: Buffer.from(o.args, "utf8") }, options: toSubmitOptions(opts) }));
    if (!o.wait) {
      print(!!o.json, { ...runJson(out.run), deduplicated: out.deduplicated }, `${out.run.id}  ${task}  ${stateName(out.run.state)}${out.deduplicated ? "  (existing run for this idempotency key)" : ""}`);
      c.close();
      await stopTelemetry();
      return;
    }
    const run = await new RunHandle(c, out.run).wait({ timeoutMs: o.timeoutMs });
    print(!!o.json, runJson(run), runText(run));
    c.close();
    await stopTelemetry();
    if (run.state !== RunState.RUN_STATE_COMPLETED) process.exitCode = 1;
  });

program
  .command("status")
  .description("show a run")
  .argument("<run-id>")
  .option("--wait-ms <ms>", "wait up to this long for the run to finish", int("--wait-ms"), 0)
  .option("--json", "print JSON")
  .action(async (id: string, o: { waitMs: number; json?: boolean }) => {
    const c = client();
    const run = await c.getStatus(id, o.waitMs);
    print(!!o.json, runJson(run), runText(run));
    c.close();
  });

program
  .command("watch")
  .description("follow events live: of one run (from its start), of a task, or of everything")
  .argument("[run-id]")
  .option("--task <name...>", "only these tasks")
  .option("--after <cursor>", "resume after this cursor")
  .option("--json", "print one JSON object per event")
  .action(async (id: string | undefined, o: { task?: string[]; after?: string; json?: boolean }) => {
    const c = client();
    const ac = new AbortController();
    process.once("SIGINT", () => ac.abort());
    try {
      for await (const e of c.events({ runIds: id ? [id] : [], tasks: o.task ?? [], afterCursor: o.after, untilTerminal: !!id }, ac.signal)) {
        if (o.json) console.log(JSON.stringify({ cursor: e.cursor, runId: e.runId, task: e.task, type: e.type, state: RunState[e.state], attempt: e.attempt, time: e.time?.toISOString(), log: e.log ?? null, run: e.run ? runJson(e.run) : null }));
        else console.log(eventText(e));
      }
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    }
    c.close();
  });

program
  .command("runs")
  .description("list runs, newest first")
  .option("--task <name>", "only this task")
  .option("--state <state...>", "only these states (pending, running, completed, …)")
  .option("--limit <n>", "page size (1–1000)", int("--limit"), 20)
  .option("--page-token <token>", "next page token from the previous page")
  .option("--json", "print JSON")
  .action(async (o: { task?: string; state?: string[]; limit: number; pageToken?: string; json?: boolean }) => {
    const c = client();
    // A state filter reads a bounded number of records per call, so a
    // call may come back short: ask again until the page is full or the
    // listing ends (within a few seconds).
    const page = { runs: [] as TaskRun[], nextPageToken: o.pageToken ?? "" };
    const until = Date.now() + 3_000;
    do {
      const next = await c.listRuns({ task: o.task, states: (o.state ?? []).map(parseState), pageSize: o.limit - page.runs.length, pageToken: page.nextPageToken });
      page.runs.push(...next.runs);
      page.nextPageToken = next.nextPageToken;
    } while (page.runs.length < o.limit && page.nextPageToken && Date.now() < until);
    if (o.json) console.log(JSON.stringify({ runs: page.runs.map(runJson), nextPageToken: page.nextPageToken }, null, 2));
    else {
      const rows = [["RUN", "TASK", "STATE", "ATTEMPT", "CREATED", "DURATION"]];
      for (const r of page.runs) {
        const dur = r.startedAt && r.finishedAt ? `${r.finishedAt.getTime() - r.startedAt.getTime()} ms` : isTerminalState(r.state) ? "-" : "…";
        rows.push([r.id, r.task, stateName(r.state), String(r.attempt), r.createdAt?.toISOString() ?? "", dur]);
      }
      console.log(table(rows));
      if (page.nextPageToken) console.log(`\nmore: taskwire runs --page-token ${page.nextPageToken}`);
    }
    c.close();
  });

program
  .command("cancel")
  .description("cancel a run")
  .argument("<run-id>")
  .option("--reason <text>", "recorded as the cancellation message")
  .option("--json", "print JSON")
  .action(async (id: string, o: { reason?: string; json?: boolean }) => {
    const c = client();
    const run = await c.cancel(id, o.reason ?? "");
    print(!!o.json, runJson(run), `${run.id}  ${stateName(run.state)}${run.state === RunState.RUN_STATE_RUNNING ? " (cancel requested; the worker aborts it)" : ""}`);
    c.close();
  });

program
  .command("retry")
  .description("run a FAILED or CANCELLED run again (a new attempt of the same run); list candidates with: taskwire runs --state failed")
  .argument("<run-id>")
  .option("--json", "print JSON")
  .action(async (id: string, o: { json?: boolean }) => {
    const c = client();
    const run = await c.retry(id);
    print(!!o.json, runJson(run), `${run.id}  ${stateName(run.state)} (attempt ${run.attempt + 1} queued)`);
    c.close();
  });

const schedules = program.command("schedule").description("cron schedules: create, list, pause, resume, delete");
const scheduleLine = (s: { name: string; cron: string; timezone: string; paused: boolean; nextFireAt?: Date; lastRunId: string; lastError: string; lastErrorAt?: Date; run?: { task: string } }): string[] => [
  s.name,
  s.run?.task ?? "",
  `${s.cron} (${s.timezone})`,
  s.paused ? "paused" : s.lastError ? "failing" : "active",
  s.paused ? "-" : (s.nextFireAt?.toISOString() ?? ""),
  s.lastRunId || "-",
  s.lastError ? `${s.lastErrorAt?.toISOString() ?? ""} ${s.lastError}`.trim() : "-",
];
schedules
  .command("create")
  .description("create or replace a schedule")
  .argument("<name>", "schedule name (letters, digits, - and _)")
  .requiredOption("--cron <expr>", 'cron expression, 5 fields or 6 with seconds first, e.g. "0 9 * * 1-5"')
  .requiredOption("--task <name>", "task to submit at each fire")
  .option("--args <json>", "arguments as a JSON array", "[]")
  .option("--tz <zone>", "IANA time zone", "UTC")
  .option("--json", "print JSON")
  .action(async (name: string, o: { cron: string; task: string; args: string; tz: string; json?: boolean }) => {
    const c = client();
    let args: unknown;
    try {
      args = JSON.parse(o.args);
    } catch (err) {
      throw new InvalidArgumentError(`--args is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    const s = await c.createSchedule({ name, cron: o.cron, timezone: o.tz, task: o.task, args: Array.isArray(args) ? args : [args] });
    print(!!o.json, s, `schedule ${s.name}: ${s.run?.task} at "${s.cron}" (${s.timezone}); next ${s.nextFireAt?.toISOString() ?? "-"}`);
    c.close();
  });
schedules
  .command("list")
  .description("list schedules")
  .option("--json", "print JSON")
  .action(async (o: { json?: boolean }) => {
    const c = client();
    const all = await c.listSchedules();
    if (o.json) console.log(JSON.stringify(all, null, 2));
    else console.log(table([["NAME", "TASK", "CRON", "STATUS", "NEXT", "LAST RUN", "LAST ERROR"], ...all.map(scheduleLine)]));
    c.close();
  });
for (const [cmd, paused] of [["pause", true], ["resume", false]] as const) {
  schedules
    .command(cmd)
    .description(`${cmd} a schedule`)
    .argument("<name>")
    .action(async (name: string) => {
      const c = client();
      const s = await c.pauseSchedule(name, paused);
      console.log(`schedule ${s.name} ${s.paused ? "paused" : `resumed; next ${s.nextFireAt?.toISOString() ?? "-"}`}`);
      c.close();
    });
}
schedules
  .command("delete")
  .description("delete a schedule (runs it submitted go on)")
  .argument("<name>")
  .action(async (name: string) => {
    const c = client();
    await c.deleteSchedule(name);
    console.log(`schedule ${name} deleted`);
    c.close();
  });

addAutomationCommands(program, client);

program.addOption(new Option("--verbose", "print stack traces of errors").hideHelp());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = err instanceof TaskwireError ? err : undefined;
  console.error(`taskwire: ${e ? `${Status[e.code] ?? e.code}: ${e.message}` : err instanceof Error ? err.message : String(err)}`);
  if (program.opts<{ verbose?: boolean }>().verbose && err instanceof Error) console.error(err.stack);
  process.exitCode = 1;
}
