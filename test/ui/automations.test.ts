import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { task, TriggerEvent } from "@taskwire/client";
import type { Browser, Page } from "playwright-core";
import { REPO } from "../helpers/env.js";
import { Receiver } from "../helpers/receiver.js";
import { useStack } from "../helpers/stack.js";
import { buildUi, launchChromium } from "./browser.js";

/** With TASKWIRE_UI_SCREENSHOTS=1 the page is saved to docs/img/automations.png. */
const SHOTS = process.env.TASKWIRE_UI_SCREENSHOTS ? join(REPO, "docs/img") : "";

describe("web UI: automations (headless Chromium, real broker)", function () {
  this.timeout(60_000);
  const sendEmail = task("send-email", async (to: string) => {
    throw Object.assign(new Error(`mailbox ${to} is full`), { name: "SmtpError" });
  });
  const stack = useStack({ tasks: [sendEmail], broker: { automationAllow: "127.0.0.1" } });
  const receiver = new Receiver();
  let browser: Browser;
  let page: Page;
  let base = "";
  const pageErrors: string[] = [];

  before(async function () {
    await receiver.up();
    buildUi();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on("pageerror", (e) => pageErrors.push(e.message));
    base = `http://${stack.broker.httpAddress}`;
  });
  after(async function () {
    await browser?.close();
    await receiver.down();
    assert.deepEqual(pageErrors, [], "the page threw no uncaught errors");
  });

  it("lists automations with their recent firings, pauses, resumes and deletes them", async function () {
    await stack.client.createAutomation({
      name: "page-on-call",
      description: "send-email gives up",
      trigger: { tasks: ["send-email"], onEvent: { events: [TriggerEvent.TRIGGER_EVENT_DEAD_LETTERED] } },
      actions: [{ webhook: { url: receiver.url } }, { chat: { url: receiver.url } }],
      cooldownMs: 60_000,
    });
    await stack.client.createAutomation({ name: "mail-storm", trigger: { tasks: ["send-email"], threshold: { events: [TriggerEvent.TRIGGER_EVENT_FAILED], count: 5, windowMs: 600_000 } }, actions: [{ chat: { url: receiver.url } }], cooldownMs: 3_600_000 });
    const run = await sendEmail.using(stack.client).applyAsync(["ada@example.com"]);
    await run.wait({ timeoutMs: 10_000 }).catch(() => undefined);
    await page.goto(`${base}/ui/#/automations`);
    const row = page.locator('tr[data-automation="page-on-call"]');
    await row.waitFor();
    assert.match(await row.innerText(), /dead-lettered[\s\S]*cool-down 1 min[\s\S]*tasks send-email[\s\S]*webhook 127\.0\.0\.1:\d+, chat[\s\S]*active/);
    // The firing shows once the broker has recorded it (the page polls every 5 s).
    await page.locator('tr[data-automation="page-on-call"] td', { hasText: /^1$/ }).waitFor({ timeout: 15_000 });
    await page.getByRole("button", { name: "page-on-call", exact: true }).click();
    const firing = page.locator("table.firings tbody tr").first();
    await firing.waitFor();
    assert.match(await firing.innerText(), new RegExp(`of send-email DEAD_LETTERED \\(attempt 1\\): SmtpError: mailbox ada@example.com is full`));
    assert.equal(await firing.locator(`a[href="#/runs/${run.id}"]`).count(), 1, "links the run that fired it");
    assert.equal(await firing.locator("a.chip").count(), 2, "and its two action runs");
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, "automations.png"), fullPage: true });
    }
    await page.getByRole("button", { name: "Pause automation page-on-call" }).click();
    await page.locator('tr[data-automation="page-on-call"][data-paused=true]').waitFor();
    assert.equal((await stack.client.getAutomation("page-on-call")).paused, true);
    await page.getByRole("button", { name: "Resume automation page-on-call" }).click();
    await page.locator('tr[data-automation="page-on-call"][data-paused=false]').waitFor();
    await page.getByRole("button", { name: "Delete automation mail-storm" }).click();
    await page.getByRole("button", { name: "Confirm deleting automation mail-storm" }).click();
    await page.locator('tr[data-automation="mail-storm"]').waitFor({ state: "detached" });
    assert.deepEqual((await stack.client.listAutomations()).map((a) => a.name), ["page-on-call"]);
  });
});
