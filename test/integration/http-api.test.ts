import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NonRetryableError, task } from "@taskwire/client";
import type { Broker } from "@taskwire/broker";
import { api, readSse, sample, scrape } from "../helpers/http.js";
import { useStack } from "../helpers/stack.js";
import { REPO, startBroker, uniq, waitFor } from "../helpers/env.js";

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64");
const unb64 = (s: unknown): unknown => JSON.parse(Buffer.from(String(s), "base64").toString("utf8"));

interface RunJson {
  id: string;
  task: string;
  state: string;
  attempt?: number;
  result?: { data?: string };
  error?: { type?: string; message?: string };
}

describe("HTTP: the JSON API, /metrics, /healthz and /readyz", function () {
  const add = task(uniq("http-add"), async (a: number, b: number) => a + b);
  const boom = task(uniq("http-boom"), async () => {
    throw new NonRetryableError("boom");
  });
  const stack = useStack({ tasks: [add, boom], worker: { http: "127.0.0.1:0", concurrency: 4 } });
  const base = (): string => `http://${stack.broker.httpAddress}`;
  const submit = async (t: string, args: unknown[], options: Record<string, unknown> = {}): Promise<RunJson> => {
    const r = await api<{ run: RunJson }>(base(), "POST", "/v1/runs", { task: t, args: { data: b64(args) }, options });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.run;
  };

  it("serves /healthz and /readyz on the broker and the worker", async function () {
    for (const addr of [stack.broker.httpAddress, stack.worker.httpAddress]) {
      assert.match(addr, /^127\.0\.0\.1:\d+$/);
      const h = await api(`http://${addr}`, "GET", "/healthz");
      assert.equal(h.status, 200);
      const r = await api<{ ready: boolean; checks: Record<string, boolean> }>(`http://${addr}`, "GET", "/readyz");
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.ready, true);
      assert.equal(r.body.checks.nats, true);
    }
  });

  it("submits, waits for and reads a run (POST /v1/runs, GET /v1/runs/{id}?wait_timeout_ms)", async function () {
    const run = await submit(add.taskName, [2, 3]);
    assert.equal(run.task, add.taskName);
    assert.equal(run.state, "RUN_STATE_PENDING");
    const got = await api<{ run: RunJson }>(base(), "GET", `/v1/runs/${run.id}?wait_timeout_ms=10000`);
    assert.equal(got.status, 200);
    assert.equal(got.body.run.state, "RUN_STATE_COMPLETED");
    assert.equal(unb64(got.body.run.result?.data), 5);
  });

  it("answers errors as {code, message} with grpc-gateway's HTTP statuses", async function () {
    const cases: Array<[string, string, unknown, Record<string, string>, number, number, RegExp]> = [
      ["POST", "/v1/runs", "{not json", {}, 400, 3, /not valid JSON/],
      ["POST", "/v1/runs", { task: 5 }, {}, 400, 3, /SubmitRequest\.task.*expected string/],
      ["POST", "/v1/runs", { task: add.taskName, tsk: "x" }, {}, 400, 3, /"tsk" is unknown/],
      ["POST", "/v1/runs", { task: "bad name!" }, {}, 400, 3, /task/],
      ["POST", "/v1/runs", { task: add.taskName, options: { delayMs: "abc" } }, {}, 400, 3, /delay_ms/],
      ["POST", "/v1/runs", { task: add.taskName, options: { timeoutMs: "99999999999999999999" } }, {}, 400, 3, /timeout_ms|int64/],
      ["POST", "/v1/runs", [1, 2], {}, 400, 3, /JSON object/],
      ["GET", "/v1/runs/0190a1b2-0000-7000-8000-000000000000", undefined, {}, 404, 5, /not found/],
      ["GET", "/v1/runs/not-a-run-id", undefined, {}, 400, 3, /run_id/],
      ["GET", "/v1/runs?page_size=5000", undefined, {}, 400, 3, /page_size/],
      ["GET", "/v1/runs?states=SLEEPING", undefined, {}, 400, 3, /RunState/],
      ["GET", "/v1/runs?colour=red", undefined, {}, 400, 3, /unknown query parameter "colour"/],
      ["GET", "/v1/nothing-here", undefined, {}, 404, 5, /no route/],
      ["DELETE", "/v1/runs", undefined, {}, 405, 12, /answers POST, GET/],
      ["POST", "/v1/runs", "task=add", { "content-type": "application/x-www-form-urlencoded" }, 415, 3, /application\/json/],
    ];
    for (const [method, path, body, headers, status, code, message] of cases) {
      const r = await api<{ code: number; message: string }>(base(), method, path, body, headers);
      assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, code, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.message, message, `${method} ${path}`);
    }
    // fetch cannot set Host: a raw request shows the DNS-rebinding guard (no auth, loopback port).
    const rebound = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const [host, port] = stack.broker.httpAddress.split(":");
      const req = request({ host, port: Number(port), path: "/v1/runs", headers: { host: "attacker.example" } }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /DNS rebinding/);
    const big = await api<{ code: number; message: string }>(base(), "POST", "/v1/runs", { task: add.taskName, args: { data: "A".repeat(12 * 1024 * 1024) } });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, 8);
    assert.equal((await api(base(), "GET", "/healthz")).status, 200, "the broker serves on after a refused body");
  });

  it("lists runs with filters and pages (GET /v1/runs)", async function () {
    const runs = await Promise.all([1, 2, 3].map((i) => submit(add.taskName, [i, i])));
    await Promise.all(runs.map((r) => api(base(), "GET", `/v1/runs/${r.id}?wait_timeout_ms=10000`)));
    const page = await api<{ runs: RunJson[]; nextPageToken?: string }>(base(), "GET", `/v1/runs?task=${add.taskName}&states=RUN_STATE_COMPLETED,failed&page_size=2`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    assert.equal(page.body.runs.length, 2);
    assert.ok(page.body.runs.every((r) => r.task === add.taskName && r.state === "RUN_STATE_COMPLETED"));
    assert.ok(page.body.nextPageToken);
    const next = await api<{ runs: RunJson[] }>(base(), "GET", `/v1/runs?task=${add.taskName}&states=completed&page_size=2&page_token=${page.body.nextPageToken}`);
    assert.ok(next.body.runs.length >= 1);
    assert.ok(!next.body.runs.some((r) => page.body.runs.some((p) => p.id === r.id)), "the next page starts after the first");
  });

  it("cancels and retries (POST /v1/runs/{id}:cancel and :retry) and submits batches (POST /v1/runs:batch)", async function () {
    const later = await submit(add.taskName, [1, 1], { delayMs: 60_000 });
    assert.equal(later.state, "RUN_STATE_SCHEDULED");
    const cancelled = await api<{ run: RunJson }>(base(), "POST", `/v1/runs/${later.id}:cancel`, { reason: "changed my mind" });
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.run.state, "RUN_STATE_CANCELLED");
    const retried = await api<{ run: RunJson }>(base(), "POST", `/v1/runs/${later.id}:retry`, {});
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    const done = await api<{ run: RunJson }>(base(), "GET", `/v1/runs/${later.id}?wait_timeout_ms=10000`);
    assert.equal(done.body.run.state, "RUN_STATE_COMPLETED");
    const late = await api<{ code: number }>(base(), "POST", `/v1/runs/${later.id}:cancel`, {});
    assert.equal(late.status, 400, `cancelling a completed run is FAILED_PRECONDITION → 400: ${JSON.stringify(late.body)}`);
    assert.equal(late.body.code, 9);

    const batch = await api<{ runs: Array<{ run: RunJson }> }>(base(), "POST", "/v1/runs:batch", { runs: [{ task: add.taskName, args: { data: b64([1, 2]) } }, { task: add.taskName, args: { data: b64([3, 4]) } }] });
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
    assert.equal(batch.body.runs.length, 2);
    const failing = await api<{ code: number; message: string }>(base(), "POST", "/v1/runs:batch", { runs: [{ task: add.taskName }, { task: "" }] });
    assert.equal(failing.status, 400);
    assert.match(failing.body.message, /runs\[1\]\.task/);
  });

  it("creates, lists, pauses and deletes schedules (/v1/schedules)", async function () {
    const name = uniq("http-sched");
    const created = await api<{ schedule: { name: string; nextFireAt?: string } }>(base(), "POST", "/v1/schedules", { schedule: { name, cron: "0 0 1 1 *", run: { task: add.taskName, args: { data: b64([1, 2]) } } } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.ok(created.body.schedule.nextFireAt);
    const listed = await api<{ schedules: Array<{ name: string; paused?: boolean }> }>(base(), "GET", "/v1/schedules");
    assert.ok(listed.body.schedules.some((s) => s.name === name));
    const paused = await api<{ schedule: { paused?: boolean } }>(base(), "POST", `/v1/schedules/${name}:pause`, { paused: true });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal(paused.body.schedule.paused, true);
    assert.equal((await api(base(), "DELETE", `/v1/schedules/${name}`)).status, 200);
    assert.equal((await api<{ code: number }>(base(), "DELETE", `/v1/schedules/${name}`)).status, 404);
  });

  it("streams events as server-sent events, resuming after Last-Event-ID (GET /v1/events)", async function () {
    const run = await submit(add.taskName, [20, 22]);
    const url = `${base()}/v1/events?run_ids=${run.id}&until_terminal=true&heartbeat_interval_ms=1000`;
    const all = await readSse(url);
    assert.equal(all.status, 200);
    assert.equal(all.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.ok(all.ended, "until_terminal ends the stream");
    assert.equal(all.events.at(-1)?.event, "end");
    const data = all.events.filter((e) => e.event === undefined).map((e) => ({ id: e.id, msg: JSON.parse(e.data) as { event?: { cursor: string; type: string; state: string } } }));
    const types = data.map((d) => d.msg.event?.type);
    assert.deepEqual(types.slice(0, 1), ["EVENT_TYPE_SUBMITTED"], JSON.stringify(types));
    assert.equal(types.at(-1), "EVENT_TYPE_COMPLETED");
    for (const d of data) assert.equal(d.id, d.msg.event?.cursor, "each event's id is its cursor");
    const first = data[0]?.id ?? "";
    const resumed = await readSse(url, { headers: { "last-event-id": first } });
    const resumedTypes = resumed.events.filter((e) => e.event === undefined).map((e) => (JSON.parse(e.data) as { event?: { type: string } }).event?.type);
    assert.deepEqual(resumedTypes, types.slice(1), "a reconnect with Last-Event-ID gets what came after it, nothing twice");
    const unknown = await readSse(`${base()}/v1/events?run_ids=0190a1b2-0000-7000-8000-000000000000`);
    assert.equal(unknown.status, 404, "an error found before the stream opens is an HTTP status");
  });

  it("answers queues (GET /v1/queues) and live workers (GET /v1/workers)", async function () {
    const nobody = uniq("http-nobody");
    await submit(nobody, [1]);
    await submit(nobody, [2]);
    const q = await waitFor(async () => {
      const r = await api<{ queues: Array<{ queue: string; task: string; depth: number; oldestWaitingAgeSeconds: number; ackPending: number; workers: number }> }>(base(), "GET", "/v1/queues");
      return r.body.queues.find((x) => x.task === nobody && x.depth === 2);
    }, "the queue of a task nobody serves");
    assert.equal(q.queue, "default");
    assert.ok(q.oldestWaitingAgeSeconds >= 0);
    assert.equal(q.workers, 0);
    const served = await api<{ queues: Array<{ task: string; workers: number; depth: number }> }>(base(), "GET", "/v1/queues");
    assert.equal(served.body.queues.find((x) => x.task === add.taskName)?.workers, 1);
    const w = await api<{ workers: Array<{ id: string; tasks: string[]; queues: string[]; concurrency: number; running: number; pid: number; lastSeen: string }> }>(base(), "GET", "/v1/workers");
    const me = w.body.workers.find((x) => x.id === stack.worker.workerId);
    assert.ok(me, JSON.stringify(w.body));
    assert.deepEqual([...me.tasks].sort(), [add.taskName, boom.taskName].sort());
    assert.deepEqual(me.queues, ["default"]);
    assert.equal(me.concurrency, 4);
    assert.equal(me.pid, process.pid);
    assert.ok(Date.now() - Date.parse(me.lastSeen) < 10_000);
  });

  it("counts RPCs, submits, queues and runs in /metrics", async function () {
    const failed = await submit(boom.taskName, []);
    await api(base(), "GET", `/v1/runs/${failed.id}?wait_timeout_ms=10000`);
    const nobody = uniq("http-metrics-nobody");
    await submit(nobody, [1]);
    const b = await waitFor(async () => {
      const s = await scrape(base());
      return sample(s, "taskwire_queue_depth", { task: nobody }) === 1 ? s : undefined;
    }, "the queue depth gauge");
    assert.equal(sample(b, "taskwire_queue_metrics_exporter"), 1);
    assert.ok((sample(b, "taskwire_rpc_server_duration_seconds_count", { method: "Submit", code: "OK" }) ?? 0) >= 5);
    assert.ok((sample(b, "taskwire_rpc_server_duration_seconds_count", { method: "GetStatus", code: "NOT_FOUND" }) ?? 0) >= 1);
    assert.ok((sample(b, "taskwire_rpc_server_duration_seconds_count", { method: "Submit", code: "INVALID_ARGUMENT" }) ?? 0) >= 1);
    assert.ok((sample(b, "taskwire_submits_total", { task: add.taskName, queue: "default", result: "created" }) ?? 0) >= 5);
    assert.equal(sample(b, "taskwire_submits_total", { task: nobody, queue: "default", result: "created" }), 1);
    assert.ok((sample(b, "taskwire_queue_oldest_waiting_age_seconds", { task: nobody }) ?? -1) >= 0);
    assert.ok((sample(b, "taskwire_http_requests_total", { route: "/v1/runs", code: "200" }) ?? 0) >= 1);
    assert.equal(sample(b, "taskwire_nats_connected"), 1);
    assert.ok((sample(b, "taskwire_rpc_server_streams_total", { method: "StreamEvents", code: "OK" }) ?? 0) >= 1);

    const w = await scrape(`http://${stack.worker.httpAddress}`);
    assert.ok((sample(w, "taskwire_worker_runs_started_total", { task: add.taskName, queue: "default" }) ?? 0) >= 5);
    assert.ok((sample(w, "taskwire_worker_runs_completed_total", { task: add.taskName }) ?? 0) >= 5);
    assert.equal(sample(w, "taskwire_worker_runs_failed_total", { task: boom.taskName }), 1);
    assert.ok((sample(w, "taskwire_worker_run_duration_seconds_count", { task: add.taskName, outcome: "completed" }) ?? 0) >= 5);
    assert.ok((sample(w, "taskwire_worker_queue_wait_seconds_count", { task: add.taskName }) ?? 0) >= 1);
    assert.equal(sample(w, "taskwire_worker_runs_in_flight"), 0);
    assert.equal(sample(w, "taskwire_worker_slots_free"), 4);
    assert.ok(sample(w, "process_cpu_seconds_total") !== undefined, "Node's process metrics too");
  });

  it("the Grafana dashboard (deploy/grafana/taskwire.json) queries only metrics a broker or worker exports", async function () {
    const families = new Set<string>();
    for (const addr of [stack.broker.httpAddress, stack.worker.httpAddress]) {
      const text = await (await fetch(`http://${addr}/metrics`)).text();
      for (const m of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
        const [name, type] = [m[1] ?? "", m[2] ?? ""];
        families.add(name);
        if (type === "histogram") for (const suffix of ["_bucket", "_count", "_sum"]) families.add(name + suffix);
      }
    }
    const dashboard = JSON.parse(readFileSync(join(REPO, "deploy/grafana/taskwire.json"), "utf8")) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    assert.ok(exprs.length >= 20, `found ${exprs.length} queries`);
    for (const e of exprs) for (const name of e.match(/taskwire_[a-z_]+/g) ?? []) assert.ok(families.has(name), `the dashboard queries ${name}, which nothing exports (${e})`);
  });
});

describe("HTTP: the JSON API has gRPC's auth", function () {
  const stack = useStack({});
  let broker: Broker;
  let dir: string;
  const reader = "tw_reader_token_0123456789";
  const submitter = "tw_submitter_token_0123456789";

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "taskwire-http-auth-"));
    const file = join(dir, "tokens.yaml");
    writeFileSync(file, `"${reader}":\n  name: reader\n  scopes: [runs:read]\n"${submitter}":\n  name: submitter\n  namespace: team-a\n  scopes: [runs:submit, runs:read]\n`);
    broker = await startBroker(stack.nats.url, { authTokensFile: file });
  });
  after(async function () {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers 401 without a token, 403 without the scope, and keeps namespaces apart", async function () {
    const base = `http://${broker.httpAddress}`;
    const none = await api<{ code: number; message: string }>(base, "GET", "/v1/runs");
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 16);
    assert.equal((await api(base, "GET", "/v1/queues")).status, 401, "the routes that are not RPCs too");
    const bad = await api<{ code: number }>(base, "GET", "/v1/runs", undefined, { authorization: "Bearer tw_not_a_real_token_at_all" });
    assert.equal(bad.status, 401);
    const denied = await api<{ code: number; message: string }>(base, "POST", "/v1/runs", { task: "x" }, { authorization: `Bearer ${reader}` });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.code, 7);
    assert.match(denied.body.message, /runs:submit/);
    const made = await api<{ run: { id: string } }>(base, "POST", "/v1/runs", { task: uniq("ns") }, { authorization: `Bearer ${submitter}` });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    assert.equal((await api(base, "GET", `/v1/runs/${made.body.run.id}`, undefined, { authorization: `Bearer ${submitter}` })).status, 200);
    assert.equal((await api(base, "GET", `/v1/runs/${made.body.run.id}`, undefined, { authorization: `Bearer ${reader}` })).status, 404, "another namespace's run is NOT_FOUND");
    assert.equal((await api(base, "GET", "/v1/workers", undefined, { authorization: `Bearer ${reader}` })).status, 200);
    assert.equal((await api(base, "GET", "/healthz")).status, 200, "health stays open");
    assert.equal((await api(base, "GET", "/metrics")).status, 200, "metrics stay open");
  });
});
