import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { Client, context, task } from "@taskwire/client";
import type { Browser, Page } from "playwright-core";
import { REPO, uniq, waitFor } from "../helpers/env.js";
import { useTracerProvider } from "../helpers/otel.js";
import { useStack } from "../helpers/stack.js";
import { buildUi, launchChromium } from "./browser.js";

/** With TASKWIRE_UI_SCREENSHOTS=1 the main pages are saved to docs/img/ (how docs/ui.md's pictures are made). */
const SHOTS = process.env.TASKWIRE_UI_SCREENSHOTS ? join(REPO, "docs/img") : "";

describe("web UI in headless Chromium (real broker, JSON API and event stream)", function () {
  this.timeout(60_000);
  // Plain names (the stack is this suite's own): they show in the screenshots.
  const add = task("add", async (a: number, b: number) => a + b);
  // Fails its first attempt (no retries, so the run ends FAILED); the Retry button's attempt succeeds.
  const flaky = task("charge-card", async (x: number) => {
    const { attempt, log, progress } = context();
    log.info(`attempt ${attempt} got ${x}`);
    progress(0.5, "halfway");
    if (attempt === 1) {
      log.error("the first attempt always fails");
      throw new TypeError(`attempt ${attempt} of ${x} failed`);
    }
    return { doubled: x * 2, attempt };
  });
  // Runs until cancelled (for the screenshots' running run).
  const slow = task("render-report", async (pages: number) => {
    const { signal, progress, log } = context();
    log.info(`rendering ${pages} pages`);
    progress(0.4, `page ${Math.round(pages * 0.4)} of ${pages}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 30_000);
      signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    });
    return pages;
  });
  const stack = useStack({ tasks: [add, flaky, slow], worker: { concurrency: 4 }, broker: { uiTraceUrl: "http://jaeger.test:16686/trace/{traceId}" } });
  let browser: Browser;
  let release: (() => void) | undefined;
  let page: Page;
  let base = "";
  const pageErrors: string[] = [];

  before(async function () {
    // A tracer, so runs carry a traceparent and the run page links to the trace.
    release = useTracerProvider(new BasicTracerProvider());
    buildUi();
    browser = await launchChromium();
    base = `http://${stack.broker.httpAddress}`;
  });
  beforeEach(async function () {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on("pageerror", (e) => pageErrors.push(e.message));
  });
  afterEach(async function () {
    await page.close();
  });
  after(async function () {
    await browser?.close();
    release?.();
    assert.deepEqual(pageErrors, [], "the page threw no uncaught errors");
  });

  const shot = async (file: string, fullPage = true): Promise<void> => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, file), fullPage });
  };
  const rowOf = (id: string) => page.locator(`table.runs tbody tr[data-run-id="${id}"]`);

  it("serves the UI from the broker's HTTP port with no request to another origin", async function () {
    const foreign: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(base)) foreign.push(r.url());
    });
    const res = await page.goto(`${base}/`);
    assert.equal(res?.status(), 200);
    assert.match(page.url(), /\/ui\/$/);
    await page.locator("table.runs[data-live=true]").waitFor();
    assert.equal(await page.title(), "Runs · taskwire");
    assert.deepEqual(foreign, []);
  });

  it("shows submitted runs as they appear, without a reload, and their state changes", async function () {
    await page.goto(`${base}/ui/#/runs?task=${add.taskName}`);
    await page.locator("table.runs[data-live=true][aria-busy=false]").waitFor();
    assert.equal(await page.locator("table.runs tbody tr").count(), 0, "no run of this task yet");
    const runs = await Promise.all([1, 2, 3].map((i) => add.using(stack.client).applyAsync([i, i], { labels: { batch: "ui-test" } })));
    for (const r of runs) await rowOf(r.id).waitFor();
    // Newest first.
    const ids = await page.locator("table.runs tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run-id")));
    assert.deepEqual(ids, [...runs.map((r) => r.id)].sort().reverse());
    for (const r of runs) await page.locator(`table.runs tbody tr[data-run-id="${r.id}"][data-state=RUN_STATE_COMPLETED]`).waitFor();
    assert.match((await rowOf(runs[0]!.id).textContent()) ?? "", /batch=ui-test/);
  });

  it("filters by state and label in the URL", async function () {
    const labelled = await add.using(stack.client).applyAsync([7, 7], { labels: { team: "blue" } });
    await labelled.result({ timeoutMs: 10_000 });
    await page.goto(`${base}/ui/#/runs?task=${add.taskName}&label=team%3Dblue&states=completed`);
    await rowOf(labelled.id).waitFor();
    assert.equal(await page.locator("table.runs tbody tr").count(), 1);
    assert.equal(await page.getByLabel("Label").inputValue(), "team=blue");
    assert.equal(await page.getByRole("checkbox", { name: "completed" }).isChecked(), true);
  });

  it("opens a failed run with its error and stack, retries it and sees it complete", async function () {
    const run = await flaky.using(stack.client).delay(21);
    await waitFor(async () => (await run.status()).state === 6, "the first attempt to fail the run");
    // From the list of failed runs to the run's page.
    await page.goto(`${base}/ui/#/runs?task=${flaky.taskName}&states=failed`);
    await rowOf(run.id).getByRole("link").click();
    const runPage = page.locator(`.run-page[data-run-id="${run.id}"]`);
    await runPage.waitFor();
    assert.equal(await runPage.getAttribute("data-state"), "RUN_STATE_FAILED");
    await page.getByText(`TypeError: attempt 1 of 21 failed`).first().waitFor();
    assert.match((await page.locator(".stack").first().textContent()) ?? "", /TypeError: attempt 1 of 21 failed\n\s+at /);
    await page.locator("table.logs").getByRole("cell", { name: "the first attempt always fails" }).waitFor();
    await page.locator("table.events tr[data-event=EVENT_TYPE_FAILED]").waitFor();
    const traceId = (await run.status()).traceParent.split("-")[1];
    assert.match(traceId ?? "", /^[0-9a-f]{32}$/, "the run carries a traceparent");
    assert.equal(await page.getByRole("link", { name: /View trace/ }).getAttribute("href"), `http://jaeger.test:16686/trace/${traceId}`);
    await shot("run-failed.png");

    await page.getByRole("button", { name: "Retry" }).click();
    await page.locator(`.run-page[data-state=RUN_STATE_COMPLETED]`).waitFor();
    assert.equal(await page.locator("table tr[data-attempt]").count(), 2, "both attempts in the timeline");
    assert.deepEqual(JSON.parse((await page.getByRole("region", { name: "Result" }).locator("pre").textContent()) ?? ""), { doubled: 42, attempt: 2 });
    await page.locator("table.events tr[data-event=EVENT_TYPE_RESUBMITTED]").waitFor();
    assert.equal(await page.getByRole("button", { name: "Retry" }).count(), 0, "a completed run has no Retry");
    await shot("run.png");
  });

  it("cancels a delayed run from its page", async function () {
    const run = await add.using(stack.client).applyAsync([1, 1], { delayMs: 60_000 });
    await page.goto(`${base}/ui/#/runs/${run.id}`);
    await page.locator(`.run-page[data-state=RUN_STATE_SCHEDULED]`).waitFor();
    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.getByLabel("Reason").fill("not needed");
    await page.getByRole("button", { name: "Confirm cancel" }).click();
    await page.locator(`.run-page[data-state=RUN_STATE_CANCELLED]`).waitFor();
    const status = await run.status();
    assert.equal(status.state, 7);
    assert.match(status.error?.message ?? "", /not needed/);
  });

  it("pauses, resumes and deletes a schedule", async function () {
    const sched = uniq("ui-sched");
    await stack.client.createSchedule({ name: sched, cron: "0 3 * * *", task: add.taskName, args: [1, 2] });
    await page.goto(`${base}/ui/#/schedules`);
    const row = page.locator(`tr[data-schedule="${sched}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute("data-paused"), "false");
    assert.match((await row.textContent()) ?? "", /03:00:00/);
    await shot("schedules.png");

    await page.getByRole("button", { name: `Pause schedule ${sched}` }).click();
    await page.locator(`tr[data-schedule="${sched}"][data-paused=true]`).waitFor();
    assert.equal((await stack.client.listSchedules()).find((s) => s.name === sched)?.paused, true);

    await page.getByRole("button", { name: `Resume schedule ${sched}` }).click();
    await page.locator(`tr[data-schedule="${sched}"][data-paused=false]`).waitFor();
    assert.equal((await stack.client.listSchedules()).find((s) => s.name === sched)?.paused, false);

    await page.getByRole("button", { name: `Delete schedule ${sched}` }).click();
    await page.getByRole("button", { name: `Confirm deleting schedule ${sched}` }).click();
    await row.waitFor({ state: "detached" });
    assert.equal((await stack.client.listSchedules()).some((s) => s.name === sched), false);
  });

  it("shows queues and the live worker with what it runs", async function () {
    await page.goto(`${base}/ui/#/queues`);
    await page.locator(`table.queues tr[data-task="${add.taskName}"]`).waitFor();
    const worker = page.locator("table.workers tbody tr").filter({ hasText: add.taskName });
    await worker.first().waitFor();
  });

  it("takes the screenshots of docs/ui.md (with TASKWIRE_UI_SCREENSHOTS=1)", async function () {
    // Skipped unless TASKWIRE_UI_SCREENSHOTS=1: it rewrites docs/img/*.png, which a test run must not do.
    if (!SHOTS) this.skip();
    const c = stack.client;
    for (const [n, cron, paused] of [["nightly-report", "0 3 * * *", false], ["hourly-sync", "0 * * * *", false], ["weekly-digest", "0 8 * * 1", true]] as const) {
      await c.createSchedule({ name: n, cron, task: slow.taskName, args: [12], paused, options: { labels: { team: "reports" } } });
    }
    await page.goto(`${base}/ui/#/schedules`);
    await page.locator(`tr[data-schedule="weekly-digest"][data-paused=true]`).waitFor();
    await shot("schedules.png");
    // A backlog for a task no worker serves, one running run with progress, one due later.
    await c.submitBatch(Array.from({ length: 8 }, (_, i) => ({ task: "send-invoice", args: [{ invoice: 1000 + i }], options: { queue: "billing", labels: { customer: `c-${i % 7}` } } })));
    const running = await slow.using(c).applyAsync([30], { labels: { team: "reports" } });
    await c.submit(add.taskName, [40, 2], { delayMs: 3_600_000, labels: { kind: "delayed" } });
    await waitFor(async () => (await running.status()).progress?.fraction, "the running run to report progress");
    await page.goto(`${base}/ui/#/runs`);
    await page.locator(`table.runs[data-live=true] tbody tr[data-run-id="${running.id}"][data-state=RUN_STATE_RUNNING]`).waitFor();
    await shot("runs.png", false);
    await page.goto(`${base}/ui/#/queues`);
    await page.locator(`table.queues tr[data-task="send-invoice"]`).waitFor();
    await page.locator("table.workers tbody tr .run-link").first().waitFor();
    await shot("queues.png");
    await c.cancel(running.id);
  });
});

describe("web UI with auth: the token field", function () {
  this.timeout(60_000);
  const TOKEN = "ui-test-token-0123456789abcdef0123456789";
  const echo = task("echo", async (s: string) => s);
  const dir = mkdtempSync(join(tmpdir(), "taskwire-ui-auth-"));
  const stack = useStack(() => {
    const tokensFile = join(dir, "tokens.yaml");
    writeFileSync(tokensFile, `"${TOKEN}":\n  name: ui\n  scopes: [runs:submit, runs:read, runs:cancel, schedules:admin]\n`);
    return { tasks: [echo], broker: { authTokensFile: tokensFile } };
  });
  let browser: Browser;
  let client: Client;

  before(async function () {
    buildUi();
    browser = await launchChromium();
    client = new Client({ address: stack.broker.address, token: TOKEN });
  });
  after(async function () {
    client?.close();
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("asks for a token, then lists and follows runs with it (the event stream included)", async function () {
    const page = await browser.newPage();
    try {
      await page.goto(`http://${stack.broker.httpAddress}/ui/#/runs`);
      await page.getByRole("alert").filter({ hasText: "wants a token" }).waitFor();
      await page.getByLabel("Bearer token").fill(TOKEN);
      await page.getByRole("button", { name: "Use" }).click();
      await page.locator("table.runs[data-live=true][aria-busy=false]").waitFor();
      assert.equal(await page.getByRole("alert").count(), 0);
      const run = await echo.using(client).delay("hi");
      await page.locator(`table.runs tbody tr[data-run-id="${run.id}"][data-state=RUN_STATE_COMPLETED]`).waitFor();
      // Kept for the tab (sessionStorage): a reload needs no new token.
      await page.reload();
      await page.locator(`table.runs[data-live=true] tbody tr[data-run-id="${run.id}"]`).waitFor();
    } finally {
      await page.close();
    }
  });
});
