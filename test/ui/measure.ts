/**
 * The web UI with many runs retained: page load time and live-update delay.
 *
 *   node --conditions=taskwire-source --import tsx test/ui/measure.ts [--runs 100000] [--samples 20]
 *
 * Starts nats-server, a broker (HTTP on a free port) and a worker, seeds
 * `--runs` runs with SubmitBatch (1,000 per call, queued for a task no
 * worker serves, so they stay retained as PENDING records), builds the UI
 * and drives Debian's headless Chromium:
 * - page load: from navigation to the runs list's first page rendered
 *   (50 rows, newest first), a new page each time; also with a task filter
 *   (the broker reads records until the page is full), with a label filter
 *   (the browser filters ListRuns pages) and one ListRuns call over HTTP
 *   alone;
 * - live-update delay: from just before Submit is called to the run's row
 *   appearing in the open list (a MutationObserver stamps the time in the
 *   page; browser and script share the machine's clock).
 * Not part of `make test` (seeding 100,000 runs takes about 20 s here).
 */
import { parseArgs } from "node:util";
import { task } from "@taskwire/client";
import { startStack } from "../helpers/stack.js";
import { buildUi, launchChromium } from "./browser.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "100000" }, samples: { type: "string", default: "20" } } });
const RUNS = Number(values.runs);
const SAMPLES = Number(values.samples);

const probe = task("ui-probe", async (n: number) => n);
const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return `median ${q(0.5).toFixed(0)} ms, p95 ${q(0.95).toFixed(0)} ms, max ${(s.at(-1) ?? NaN).toFixed(0)} ms (n=${s.length})`;
};

const stack = await startStack({ tasks: [probe], worker: { concurrency: 8 } });
const browser = await launchChromium();
try {
  const base = `http://${stack.broker.httpAddress}`;
  const t0 = Date.now();
  let sent = 0;
  const sender = async (): Promise<void> => {
    while (sent < RUNS) {
      const n = Math.min(1_000, RUNS - sent);
      sent += n;
      await stack.client.submitBatch(Array.from({ length: n }, (_, i) => ({ task: "ui-seed", args: [i], options: { labels: { shard: String(i % 16) } } })));
    }
  };
  await Promise.all([sender(), sender(), sender(), sender()]);
  const seedMs = Date.now() - t0;
  console.log(`seeded ${RUNS.toLocaleString()} runs in ${(seedMs / 1000).toFixed(1)} s (${Math.round(RUNS / (seedMs / 1000)).toLocaleString()}/s)`);
  // A few probe runs, so the filtered list has something to show.
  for (let i = 0; i < 5; i++) await (await probe.using(stack.client).delay(i)).result({ timeoutMs: 10_000 });
  buildUi();

  const api: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const res = await fetch(`${base}/v1/runs?page_size=50`);
    const body = (await res.json()) as { runs?: unknown[] };
    if (body.runs?.length !== 50) throw new Error(`ListRuns answered ${body.runs?.length} runs`);
    api.push(performance.now() - t);
  }

  const load = async (hash: string, rows: number): Promise<number> => {
    const page = await browser.newPage();
    try {
      const t = performance.now();
      await page.goto(`${base}/ui/${hash}`);
      // The rows on screen (a scan may still go on, aria-busy, for more matches).
      await page.locator(`table.runs tbody tr:nth-child(${rows})`).waitFor({ timeout: 120_000 });
      return performance.now() - t;
    } finally {
      await page.close();
    }
  };
  const plain: number[] = [];
  for (let i = 0; i < 5; i++) plain.push(await load("#/runs", 50));
  const filtered: number[] = [];
  for (let i = 0; i < 3; i++) filtered.push(await load("#/runs?task=ui-probe", 5));
  // The 5 probe runs are the only completed ones: the broker reads states 2,000 a call, the page goes on for up to 3 s.
  const byState: number[] = [];
  for (let i = 0; i < 3; i++) byState.push(await load("#/runs?states=completed", 5));
  // 1 run in 16 has this label: the browser filters pages of 500 until 50 match.
  const labelled: number[] = [];
  for (let i = 0; i < 3; i++) labelled.push(await load("#/runs?label=shard%3D3", 50));

  // Live-update delay on the open, unfiltered first page (bypassCSP: the probes below are strings the page's CSP would refuse to eval).
  const page = await browser.newPage({ bypassCSP: true });
  await page.goto(`${base}/ui/#/runs`);
  await page.locator("table.runs[data-live=true][aria-busy=false] tbody tr:nth-child(50)").waitFor({ timeout: 120_000 });
  // In-page code as a string: this file is type-checked without the DOM's types.
  await page.evaluate(`(() => {
    const seen = new Map();
    window.__seen = seen;
    new MutationObserver((records) => {
      const now = Date.now();
      for (const r of records) for (const n of r.addedNodes) if (n.dataset && n.dataset.runId && !seen.has(n.dataset.runId)) seen.set(n.dataset.runId, now);
    }).observe(document.querySelector("table.runs tbody"), { childList: true });
  })()`);
  const delays: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const before = Date.now();
    const run = await probe.using(stack.client).delay(100 + i);
    const shownAt = await page.waitForFunction(`window.__seen.get(${JSON.stringify(run.id)})`, undefined, { timeout: 30_000, polling: 10 });
    delays.push(Number(await shownAt.jsonValue()) - before);
  }
  await page.close();

  console.log(`\nweb UI with ${RUNS.toLocaleString()} runs retained (1 nats-server, 1 broker, 1 worker, headless Chromium, one machine):`);
  console.log(`  ListRuns over HTTP (page of 50):            ${stats(api)}`);
  console.log(`  runs list, first page rendered:             ${stats(plain)}`);
  console.log(`  runs list filtered by a task (5 of ${RUNS.toLocaleString()}): ${stats(filtered)}`);
  console.log(`  runs list filtered by state (5 of ${RUNS.toLocaleString()}): ${stats(byState)}`);
  console.log(`  runs list filtered by a label (1 in 16):     ${stats(labelled)}`);
  console.log(`  live update, Submit → row on screen:        ${stats(delays)}`);
} finally {
  await browser.close();
  await stack.stop();
}
