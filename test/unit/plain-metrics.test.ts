import assert from "node:assert/strict";
import { Counter, Histogram, Registry } from "prom-client";
import { PlainCounter, PlainHistogram } from "@taskwire/core";

/** The samples of a text exposition: `name{sorted labels}` → value, and the HELP/TYPE lines. */
function samples(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line) continue;
    if (line.startsWith("#")) {
      out.set(line, "");
      continue;
    }
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = (m[2] ?? "").split(",").filter((l) => l).sort().join(",");
    out.set(`${m[1]}{${labels}}`, m[3] ?? "");
  }
  return out;
}

describe("plain metrics (PlainCounter, PlainHistogram)", () => {
  const buckets = [0.005, 0.01, 0.1, 1];
  const observations: Array<[{ task: string; queue: string }, number]> = [];
  const a = { task: "add", queue: "default" };
  const b = { task: "boom", queue: "emails" };
  for (const v of [0, 0.004, 0.005, 0.0051, 0.05, 0.5, 1, 2, 1e9]) observations.push([a, v]);
  for (const v of [0.01, 0.02]) observations.push([b, v]);

  it("expose exactly what prom-client's Counter and Histogram expose for the same observations", async () => {
    const ref = new Registry();
    const plain = new Registry();
    const refCounter = new Counter({ name: "x_total", help: "things", labelNames: ["task", "queue"], registers: [ref] });
    const refHist = new Histogram({ name: "x_seconds", help: "how long", labelNames: ["task", "queue"], buckets, registers: [ref] });
    const counter = new PlainCounter({ name: "x_total", help: "things", labelNames: ["task", "queue"], registers: [plain] });
    const hist = new PlainHistogram({ name: "x_seconds", help: "how long", labelNames: ["task", "queue"], buckets, registers: [plain] });
    for (const [labels, v] of observations) {
      refCounter.inc(labels);
      refHist.observe(labels, v);
      counter.add(labels);
      hist.record(labels, v);
    }
    refCounter.inc(b, 5);
    counter.add(b, 5);
    assert.deepEqual(samples(await plain.metrics()), samples(await ref.metrics()));
    // The JSON form too (what `getMetricsAsJSON` gives, e.g. for an aggregator).
    const [refJson, plainJson] = [await ref.getMetricsAsJSON(), await plain.getMetricsAsJSON()];
    assert.deepEqual(
      plainJson.map((m) => [m.name, m.type, m.values.length]),
      refJson.map((m) => [m.name, m.type, m.values.length]),
    );
  });

  it("drop a non-finite observation and start again after a reset", async () => {
    const r = new Registry();
    const hist = new PlainHistogram({ name: "y_seconds", help: "h", labelNames: ["task", "queue"], buckets, registers: [r] });
    const counter = new PlainCounter({ name: "y_total", help: "c", labelNames: ["task", "queue"], registers: [r] });
    hist.record(a, Number.NaN);
    hist.record(a, Number.POSITIVE_INFINITY);
    assert.equal((await r.metrics()).includes("y_seconds_count"), false);
    hist.record(a, 0.2);
    counter.add(a, 2);
    assert.match(await r.metrics(), /y_seconds_count\{task="add",queue="default"\} 1/);
    assert.match(await r.metrics(), /y_total\{task="add",queue="default"\} 2/);
    r.resetMetrics();
    assert.equal((await r.metrics()).includes("y_seconds_count"), false);
    assert.equal((await r.metrics()).includes("y_total{"), false);
  });
});
