// The curl examples of docs/http-api.md, run as written against a broker
// and the quickstart worker, each block's output compared with the one the
// page shows — so the page never shows an example that does not work.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { add, slowGreeting } from "@taskwire/examples/quickstart/tasks.js";
import { REPO } from "../helpers/env.js";
import { useStack } from "../helpers/stack.js";
import { run } from "../helpers/tools.js";

const DOC = join(REPO, "docs/http-api.md");

/** The `sh` blocks of the Examples section, each with the `text` block that follows it (its expected output), if any. */
function examples(): Array<{ code: string; expected?: string }> {
  const md = readFileSync(DOC, "utf8");
  const section = md.slice(md.indexOf("\n## Examples"));
  const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1] ?? "", body: m[2] ?? "" }));
  const out: Array<{ code: string; expected?: string }> = [];
  blocks.forEach((b, i) => {
    if (b.lang !== "sh") return;
    const next = blocks[i + 1];
    out.push({ code: b.body, expected: next?.lang === "text" ? next.body : undefined });
  });
  return out;
}

/** Ids and times differ from run to run. */
const normalize = (s: string): string =>
  s
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<uuid>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>")
    .trimEnd();

/** Whether `actual` matches `expected` line by line, `…` matching the rest of a line. */
function matches(expected: string, actual: string): boolean {
  const e = normalize(expected).split("\n");
  const a = normalize(actual).split("\n");
  if (e.length !== a.length) return false;
  return e.every((line, i) => new RegExp(`^${line.split("…").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(a[i] ?? ""));
}

describe("docs/http-api.md: the curl examples work as shown", function () {
  this.timeout(60_000);
  const stack = useStack({ tasks: [add, slowGreeting] });

  it("has examples with their outputs", function () {
    const ex = examples();
    assert.ok(ex.length >= 8, `found ${ex.length}`);
    assert.ok(ex.every((e) => e.expected !== undefined), "every example shows its output");
  });

  it("runs every example in order and prints what the page shows", async function () {
    const ex = examples();
    // One shell for all blocks (variables carry over), a marker between them.
    const marker = "@@taskwire-example-end@@";
    const script = ["set -euo pipefail", ...ex.map((e) => `${e.code}\necho ${marker}`)].join("\n");
    const r = await run("bash", ["-c", script], { env: { ...process.env, TW: `http://${stack.broker.httpAddress}` }, timeoutMs: 50_000 });
    const outputs = r.stdout.split(`${marker}\n`);
    assert.equal(r.code, 0, `the examples failed (block ${outputs.length} of ${ex.length}):\n${r.stdout}\n${r.stderr}`);
    ex.forEach((e, i) => {
      const actual = outputs[i] ?? "";
      assert.ok(matches(e.expected ?? "", actual), `example ${i + 1}:\n${e.code}\nprinted:\n${actual}\nthe page shows:\n${e.expected}`);
    });
  });
});
