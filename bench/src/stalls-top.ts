// Summarises bench/src/stalls.mjs output against the slow runs of the paced
// phase. Usage: node --import tsx bench/src/stalls-top.ts DIR
// (DIR holds <command>-<pid>.stalls.json and slow.jsonl, see stalls.mjs).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Event {
  kind: string;
  at: number;
  ms: number;
}
interface SlowRun {
  start: number;
  created: number;
  started: number;
  finished: number;
}

const dir = process.argv[2];
if (!dir) throw new Error("usage: stalls-top.ts DIR");
// slow.jsonl holds one line per phase that dumped its slow runs; the paced phase is the last.
const sets = readFileSync(join(dir, "slow.jsonl"), "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l) as SlowRun | SlowRun[]);
const last = sets[sets.length - 1];
const paced = Array.isArray(last) ? last : [last as SlowRun];
if (paced.length === 0) throw new Error("no slow runs in slow.jsonl");
const from = Math.min(...paced.map((r) => r.start));
const to = Math.max(...paced.map((r) => r.finished));
const procs = readdirSync(dir)
  .filter((f) => f.endsWith(".stalls.json"))
  .map((f) => ({ name: f.split("-")[0] ?? f, events: (JSON.parse(readFileSync(join(dir, f), "utf8")) as Event[]).filter((e) => e.at >= from && e.at <= to) }));
const overlaps = (a: Event, b: Event): boolean => a.at < b.at + b.ms && b.at < a.at + a.ms;
const isGc = (e: Event): boolean => e.kind.startsWith("gc");
console.log(`paced slow runs: ${paced.length}, from the first to the last: ${((to - from) / 1000).toFixed(1)} s`);
for (const p of procs) {
  const byKind = new Map<string, { n: number; ms: number; max: number }>();
  for (const e of p.events) {
    const k = byKind.get(e.kind) ?? { n: 0, ms: 0, max: 0 };
    k.n++;
    k.ms += e.ms;
    k.max = Math.max(k.max, e.ms);
    byKind.set(e.kind, k);
  }
  const stalls = p.events.filter((e) => e.kind === "stall");
  const withGc = stalls.filter((s) => p.events.some((e) => isGc(e) && overlaps(s, e)));
  const others = procs.filter((o) => o !== p);
  const shared = stalls.filter((s) => !withGc.includes(s) && others.some((o) => o.events.some((e) => e.kind === "stall" && overlaps(s, e) && !o.events.some((g) => isGc(g) && overlaps(e, g)))));
  console.log(`${p.name}: ${[...byKind].map(([k, v]) => `${k} ${v.n}× ${v.ms.toFixed(0)} ms (max ${v.max.toFixed(1)})`).join(", ")}`);
  console.log(`  stalls ${stalls.length}: ${withGc.length} during its own GC, ${shared.length} at the same moment as another process's stall with no GC in either (the machine)`);
}
