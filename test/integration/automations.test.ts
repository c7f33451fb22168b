import assert from "node:assert/strict";
import { Client, context, RunState, Status, TaskwireError, task, TriggerEvent } from "@taskwire/client";
import { AUTOMATION_QUEUE } from "@taskwire/core";
import { useStack } from "../helpers/stack.js";
import { spawnCli, uniq, waitFor } from "../helpers/env.js";
import { Receiver, verify } from "../helpers/receiver.js";

const SECRET = "a-test-secret-of-32-characters!!";

/** Failing runs (no retries): each ends DEAD_LETTERED. */
const boom = task(uniq("boom"), async (n: number) => {
  throw Object.assign(new Error(`boom ${n}`), { name: "BoomError" });
});
/** The downstream task of a submit action: returns the firing's run id. */
const downstream = task(uniq("downstream"), async (firing: { run?: { id: string } }) => firing.run?.id ?? "");
/** Runs until cancelled. */
const slow = task(uniq("slow"), async () => {
  const { signal } = context();
  await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  throw new Error("aborted");
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const p95 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)] ?? Number.NaN;

/** Action runs of an automation (the queue taskwire-automations), all pages. */
async function actionRuns(client: Client, automation: string) {
  const out = [];
  let pageToken = "";
  do {
    const page = await client.listRuns({ queue: AUTOMATION_QUEUE, pageSize: 1000, pageToken });
    out.push(...page.runs.filter((r) => r.options?.labels["taskwire.automation"] === automation));
    pageToken = page.nextPageToken;
  } while (pageToken);
  return out;
}

describe("automations (two brokers)", function () {
  const stack = useStack({ brokers: 2, broker: { automationAllow: "127.0.0.1" }, tasks: [boom, downstream, slow], worker: { concurrency: 50 } });
  const receiver = new Receiver();
  before(async () => {
    await receiver.up();
  });
  after(async () => {
    await receiver.down();
  });

  it("sends exactly one signed webhook per failed run, with two brokers", async function () {
    this.timeout(60_000);
    const name = uniq("notify");
    const { automation, secret } = await stack.client.createAutomation({
      name,
      trigger: { tasks: [boom.taskName], onEvent: { events: [TriggerEvent.TRIGGER_EVENT_DEAD_LETTERED] } },
      actions: [{ webhook: { url: receiver.url } }],
      secret: SECRET,
    });
    assert.equal(secret, "", "no secret is generated when one was given");
    assert.equal(automation.secret, "", "the secret is never answered");
    const start = receiver.received.length;
    const n = 40;
    const runs = await Promise.all(Array.from({ length: n }, (_, i) => boom.using(stack.client).applyAsync([i])));
    const ids = new Set(runs.map((r) => r.id));
    await waitFor(async () => (await actionRuns(stack.client, name)).filter((r) => r.state === RunState.RUN_STATE_COMPLETED).length >= n, `${n} delivered webhooks`, 30_000, 100);
    const mine = receiver.received.slice(start).filter((r) => r.headers["x-taskwire-automation"] === name);
    assert.equal(mine.length, n, "one request per failed run");
    assert.ok(mine.every((r) => verify(SECRET, r)), "every request is signed with the automation's secret");
    const bodies = mine.map((r) => JSON.parse(r.body) as { run: { id: string; state: string; error: { type: string } }; event: { matched: string[] }; automation: string });
    assert.deepEqual(new Set(bodies.map((b) => b.run.id)), ids, "each failed run notified once");
    assert.ok(bodies.every((b) => b.automation === name && b.run.state === "RUN_STATE_FAILED" && b.run.error.type === "BoomError" && b.event.matched.includes("DEAD_LETTERED")));
    assert.equal(new Set(mine.map((r) => r.headers["x-taskwire-delivery"])).size, n, "each delivery has its own id");
    // Latency from the recorded failure to the webhook's arrival.
    const finished = new Map((await Promise.all(runs.map((r) => stack.client.getStatus(r.id)))).map((r) => [r.id, r.finishedAt?.getTime() ?? 0]));
    const lat = mine.map((r, i) => r.at - (finished.get(bodies[i]?.run.id ?? "") ?? 0));
    console.log(`      failure → webhook: p50 ${median(lat)} ms, p95 ${p95(lat)} ms (${n} runs, 2 brokers)`);
    const status = await stack.client.getAutomation(name);
    assert.equal(status.status?.fired, n);
    assert.ok((status.status?.recent.length ?? 0) > 0 && status.status?.recent[0]?.actionRunIds[0]);
    await stack.client.deleteAutomation(name);
  });

  it("fires a threshold automation once per cool-down under a burst of 1,000 failures", async function () {
    this.timeout(90_000);
    const name = uniq("storm");
    await stack.client.createAutomation({
      name,
      trigger: { tasks: [boom.taskName], threshold: { events: [TriggerEvent.TRIGGER_EVENT_FAILED], count: 5, windowMs: 60_000 } },
      actions: [{ webhook: { url: receiver.url } }, { chat: { url: receiver.url, text: ":rotating_light:" } }],
      cooldownMs: 600_000,
      secret: SECRET,
    });
    const start = receiver.received.length;
    const n = 1_000;
    for (let i = 0; i < n; i += 250) await Promise.all(Array.from({ length: 250 }, (_, j) => boom.using(stack.client).applyAsync([i + j])));
    // Every event was counted: 5 fired it, the rest fell in the cool-down.
    const s = await waitFor(
      async () => {
        const a = await stack.client.getAutomation(name);
        return (a.status?.suppressed ?? 0) + 5 >= n ? a.status : undefined;
      },
      "all 1,000 failures counted",
      60_000,
      200,
    );
    assert.equal(s.fired, 1, "one firing");
    await waitFor(async () => (await actionRuns(stack.client, name)).filter((r) => r.state === RunState.RUN_STATE_COMPLETED).length === 2, "its webhook and chat message delivered", 20_000, 100);
    const mine = receiver.received.slice(start).filter((r) => r.headers["x-taskwire-automation"] === name || (JSON.parse(r.body) as { text?: string }).text?.includes(name));
    assert.equal(mine.length, 2, "one webhook and one chat message for 1,000 failures");
    const body = JSON.parse(mine.find((r) => r.headers["x-taskwire-automation"])?.body ?? "{}") as { trigger: string; count: number };
    assert.equal(body.trigger, "threshold");
    assert.equal(body.count, 5);
    const chat = JSON.parse(mine.find((r) => !r.headers["x-taskwire-automation"])?.body ?? "{}") as { text: string };
    assert.match(chat.text, /^:rotating_light: taskwire automation .*: run .* of .* FAILED/);
    console.log(`      1,000 failures → ${s.fired} firing, ${s.suppressed} suppressed by the cool-down`);
    await stack.client.deleteAutomation(name);
  });

  it("delivers every notification to a receiver that was down for 10 s", async function () {
    this.timeout(90_000);
    const name = uniq("down");
    await stack.client.createAutomation({
      name,
      trigger: { tasks: [boom.taskName], onEvent: { events: [TriggerEvent.TRIGGER_EVENT_DEAD_LETTERED] } },
      actions: [{ webhook: { url: receiver.url, timeoutMs: 1_000 } }],
      deliveryRetry: { maxRetries: 50, initialDelayMs: 500, backoffMultiplier: 1.5, maxDelayMs: 2_000 },
      secret: SECRET,
    });
    await receiver.down();
    const downAt = Date.now();
    const n = 20;
    const runs = await Promise.all(Array.from({ length: n }, (_, i) => boom.using(stack.client).applyAsync([i])));
    // The deliveries fail while it is down, and are retried with backoff.
    await waitFor(async () => (await actionRuns(stack.client, name)).filter((r) => r.attempts.some((a) => a.error?.type === "WebhookUnreachable")).length === n, "every delivery failed once", 20_000, 100);
    await waitFor(() => Date.now() - downAt >= 10_000, "10 s of downtime", 15_000, 100);
    const start = receiver.received.length;
    await receiver.up();
    await waitFor(() => new Set(receiver.received.slice(start).filter((r) => r.headers["x-taskwire-automation"] === name).map((r) => (JSON.parse(r.body) as { run: { id: string } }).run.id)).size === n, "every notification after the receiver came back", 30_000, 100);
    const got = new Set(receiver.received.slice(start).filter((r) => r.headers["x-taskwire-automation"] === name && verify(SECRET, r)).map((r) => (JSON.parse(r.body) as { run: { id: string } }).run.id));
    assert.deepEqual(got, new Set(runs.map((r) => r.id)));
    const delivered = await waitFor(async () => {
      const a = await actionRuns(stack.client, name);
      return a.every((r) => r.state === RunState.RUN_STATE_COMPLETED) ? a : undefined;
    }, "every delivery recorded", 10_000, 100);
    console.log(`      receiver down 10 s: ${n}/${n} delivered afterwards, attempts ${Math.min(...delivered.map((r) => r.attempt))}–${Math.max(...delivered.map((r) => r.attempt))}`);
    await stack.client.deleteAutomation(name);
  });

  it("submits a downstream task once per event, with the firing as its argument", async function () {
    this.timeout(30_000);
    const name = uniq("fanout");
    await stack.client.createAutomation({
      name,
      trigger: { tasks: [boom.taskName], labels: { team: "mail" }, onEvent: { events: [TriggerEvent.TRIGGER_EVENT_DEAD_LETTERED] } },
      actions: [{ submit: { task: downstream.taskName, options: { labels: { from: "automation" } } } }],
    });
    const labelled = await boom.using(stack.client).applyAsync([1], { labels: { team: "mail" } });
    await boom.using(stack.client).applyAsync([2]); // no label: not watched
    const child = await waitFor(async () => (await stack.client.listRuns({ task: downstream.taskName })).runs.find((r) => r.options?.labels["taskwire.automation"] === name && r.state === RunState.RUN_STATE_COMPLETED), "the downstream run", 15_000, 100);
    assert.equal(JSON.parse(Buffer.from(child.result?.data ?? []).toString()), labelled.id);
    assert.equal(child.options?.labels.from, "automation");
    assert.match(child.options?.idempotencyKey ?? "", new RegExp(`^automation:${name}:${labelled.id}:\\d+:0$`));
    assert.equal((await stack.client.listRuns({ task: downstream.taskName })).runs.filter((r) => r.options?.labels["taskwire.automation"] === name).length, 1);
    await stack.client.deleteAutomation(name);
  });

  it("cancels a run that has been RUNNING longer than 1 s", async function () {
    this.timeout(30_000);
    const name = uniq("too-long");
    await stack.client.createAutomation({ name, trigger: { tasks: [slow.taskName], running: { longerThanMs: 1_000 } }, actions: [{ cancelRun: { reason: "ran too long" } }] });
    const run = await slow.using(stack.client).applyAsync([]);
    const ended = await run.wait({ timeoutMs: 20_000 });
    assert.equal(ended.state, RunState.RUN_STATE_CANCELLED);
    assert.match(ended.error?.message ?? "", /ran too long/);
    await stack.client.deleteAutomation(name);
  });

  it("manages automations: list, get, pause, resume, delete; refuses bad input with what to fix", async function () {
    const name = uniq("manage");
    const { secret } = await stack.client.createAutomation({ name, description: "d", trigger: { onEvent: { events: [TriggerEvent.TRIGGER_EVENT_COMPLETED] } }, actions: [{ webhook: { url: receiver.url } }] });
    assert.match(secret, /^[0-9a-f]{64}$/, "a generated secret, answered once");
    assert.ok((await stack.client.listAutomations()).some((a) => a.name === name && a.secret === ""));
    assert.equal((await stack.client.pauseAutomation(name)).paused, true);
    assert.equal((await stack.client.pauseAutomation(name, false)).paused, false);
    const replaced = await stack.client.createAutomation({ name, trigger: { onEvent: { events: [TriggerEvent.TRIGGER_EVENT_FAILED] } }, actions: [{ webhook: { url: receiver.url } }] });
    assert.equal(replaced.secret, "", "a replacement keeps the secret");
    await stack.client.deleteAutomation(name);
    const notFound = (e: unknown): boolean => e instanceof TaskwireError && e.code === Status.NOT_FOUND && /automation .* not found/.test(e.message);
    await assert.rejects(stack.client.getAutomation(name), notFound);
    await assert.rejects(stack.client.deleteAutomation(name), notFound);
    const invalid = (re: RegExp) => (e: unknown): boolean => e instanceof TaskwireError && e.code === Status.INVALID_ARGUMENT && re.test(e.message);
    await assert.rejects(stack.client.createAutomation({ name, trigger: {}, actions: [{ webhook: { url: receiver.url } }] }), invalid(/automation.trigger: needs a condition/));
    await assert.rejects(stack.client.createAutomation({ name, trigger: { onEvent: { events: [] } }, actions: [{ webhook: { url: receiver.url } }] }), invalid(/on_event.events: is empty/));
    await assert.rejects(stack.client.createAutomation({ name, trigger: { onEvent: { events: [1] } }, actions: [] }), invalid(/automation.actions: is empty/));
    await assert.rejects(stack.client.createAutomation({ name, trigger: { onEvent: { events: [1] } }, actions: [{ webhook: { url: "ftp://x/" } }] }), invalid(/scheme "ftp:"/));
    await assert.rejects(stack.client.createAutomation({ name, trigger: { queueAge: { olderThanMs: 1_000 } }, actions: [{ cancelRun: {} }] }), invalid(/needs a run/));
    await assert.rejects(stack.client.createAutomation({ name, trigger: { threshold: { events: [1], count: 0, windowMs: 1_000 } }, actions: [{ webhook: { url: receiver.url } }] }), invalid(/threshold.count: must be 1–10000/));
    // Only the brokers queue runs on the automations' queue: a forged delivery would carry a real signature.
    await assert.rejects(stack.client.submit("taskwire-webhook", [{ automation: name, action: 0, firing: {} }], { queue: AUTOMATION_QUEUE }), invalid(/"taskwire-automations" is reserved/));
    await assert.rejects(stack.client.createSchedule({ name, cron: "* * * * *", task: "taskwire-webhook", options: { queue: AUTOMATION_QUEUE } }), invalid(/schedule.run.options.queue: "taskwire-automations" is reserved/));
  });
});

describe("automations: CLI and JSON API", function () {
  const stack = useStack({ brokers: 1, broker: { automationAllow: "127.0.0.1" }, tasks: [boom] });
  const cli = async (...args: string[]): Promise<{ code: number | null; out: string }> => {
    const p = spawnCli(["--address", stack.broker.address, ...args], { TASKWIRE_LOG_LEVEL: "warn" });
    return { code: await p.exited, out: p.output() };
  };

  it("the CLI creates, lists, shows, pauses, resumes and deletes automations", async function () {
    this.timeout(60_000);
    const receiver = await new Receiver().up();
    try {
      const name = uniq("cli");
      let r = await cli("automation", "create", name, "--on", "dead-lettered,timed-out", "--task", boom.taskName, "--webhook", receiver.url, "--header", "x-team=mail", "--cooldown", "10m", "--description", "page the mail team");
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`automation ${name}: dead-lettered,timed-out \\(tasks ${boom.taskName}\\) → webhook, cool-down 600 s`));
      assert.match(r.out, /webhook signing secret \(shown once\): [0-9a-f]{64}/);
      const secret = /shown once\): ([0-9a-f]{64})/.exec(r.out)?.[1] ?? "";
      await boom.using(stack.client).applyAsync([1]);
      await waitFor(() => receiver.received.find((x) => x.headers["x-taskwire-automation"] === name), "the CLI-made automation's webhook", 15_000);
      const got = receiver.received.find((x) => x.headers["x-taskwire-automation"] === name);
      assert.ok(got && verify(secret, got) && got.headers["x-team"] === "mail");
      await waitFor(async () => (await stack.client.getAutomation(name)).status?.recent[0]?.actionRunIds[0], "the firing recorded", 5_000);
      r = await cli("automation", "list");
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`${name}\\s+active\\s+dead-lettered,timed-out`));
      r = await cli("automation", "get", name);
      assert.match(r.out, /fired 1, suppressed by the cool-down 0/);
      assert.match(r.out, new RegExp(`run [0-9a-f-]{36} of ${boom.taskName} DEAD_LETTERED`));
      r = await cli("automation", "pause", name);
      assert.match(r.out, new RegExp(`automation ${name} paused`));
      assert.equal((await stack.client.getAutomation(name)).paused, true);
      r = await cli("automation", "resume", name);
      assert.match(r.out, new RegExp(`automation ${name} resumed`));
      r = await cli("automation", "create", uniq("bad"), "--on", "exploded", "--webhook", receiver.url);
      assert.notEqual(r.code, 0);
      assert.match(r.out, /unknown event "exploded"; use one or more of failed, dead-lettered/);
      r = await cli("automation", "create", uniq("bad"), "--threshold", "5", "--webhook", receiver.url);
      assert.match(r.out, /--threshold needs --window/);
      r = await cli("automation", "delete", name);
      assert.equal(r.code, 0, r.out);
      r = await cli("automation", "delete", name);
      assert.notEqual(r.code, 0);
      assert.match(r.out, /NOT_FOUND: automation .* not found/);
    } finally {
      await receiver.down();
    }
  });

  it("the JSON API serves /v1/automations like /v1/schedules", async function () {
    const base = `http://${stack.broker.httpAddress}`;
    const name = uniq("http");
    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
      const res = await fetch(`${base}${path}`, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const created = await call("POST", "/v1/automations", {
      automation: { name, trigger: { tasks: [boom.taskName], threshold: { events: ["TRIGGER_EVENT_FAILED"], count: 3, windowMs: "60000" } }, actions: [{ chat: { url: "http://127.0.0.1:9/hook" } }], cooldownMs: "300000" },
    });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    assert.match(String(created.json.secret), /^[0-9a-f]{64}$/);
    const list = await call("GET", "/v1/automations?page_size=10");
    assert.ok((list.json.automations as Array<{ name: string }>).some((a) => a.name === name));
    const one = await call("GET", `/v1/automations/${name}`);
    assert.equal((one.json.automation as { name: string }).name, name);
    const paused = await call("POST", `/v1/automations/${name}:pause`, { paused: true });
    assert.equal((paused.json.automation as { paused: boolean }).paused, true);
    const bad = await call("POST", "/v1/automations", { automation: { name, trigger: { onEvent: { events: ["TRIGGER_EVENT_FAILED"] } }, actions: [{ webhook: { url: "http://[::1]/x" } }] } });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.message), /loopback address, which automations may not reach unless the broker's TASKWIRE_AUTOMATION_ALLOW lists it/);
    assert.equal((await call("DELETE", `/v1/automations/${name}`)).status, 200);
    assert.equal((await call("GET", `/v1/automations/${name}`)).status, 404);
  });
});

describe("automations: the address allow-list", function () {
  const stack = useStack({ brokers: 1 });

  it("refuses loopback, link-local and private addresses unless TASKWIRE_AUTOMATION_ALLOW lists them", async function () {
    const refused = (re: RegExp) => (e: unknown): boolean => e instanceof TaskwireError && e.code === Status.INVALID_ARGUMENT && /TASKWIRE_AUTOMATION_ALLOW/.test(e.message) && re.test(e.message);
    for (const [url, re] of [
      ["http://127.0.0.1:9/hook", /loopback/],
      ["http://localhost:9/hook", /loopback/],
      ["http://[::1]:9/hook", /loopback/],
      ["http://169.254.169.254/latest/meta-data", /linkLocal/],
      ["http://10.1.2.3/", /private/],
      ["http://[::ffff:192.168.0.1]/", /private/],
    ] as const) {
      await assert.rejects(stack.client.createAutomation({ name: uniq("deny"), trigger: { onEvent: { events: [1] } }, actions: [{ webhook: { url } }] }), refused(re), url);
    }
  });
});
