// Summarises V8 .cpuprofile files (from `bench/run.sh --profile`): the top
// frames by self time, and by inclusive time for frames in taskwire code.
// Usage: node --import tsx bench/src/profile-top.ts FILE.cpuprofile [N] [FROM-TO]
// FROM-TO (seconds since the profile started, e.g. 30-40) counts only the
// samples taken then: the paced phase alone, say. Without it, the output
// starts with the busy share of each second, to find the phases in.
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, nArg, windowArg] = process.argv.slice(2);
if (!file) throw new Error("usage: profile-top.ts FILE.cpuprofile [N] [FROM-TO]");
const top = Number(nArg ?? 25);
const window = windowArg?.split("-").map((x) => Number(x) * 1e6);
if (window && (window.length !== 2 || window.some((x) => !Number.isFinite(x)))) throw new Error(`the window is FROM-TO in seconds (e.g. 30-40), not ${windowArg}`);
const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const isIdle = (id: number): boolean => ["(idle)", "(program)"].includes(byId.get(id)!.callFrame.functionName);
const selfUs = new Map<number, number>();
/** Busy µs per second since the profile started (for the timeline). */
const perSecond: number[] = [];
let at = 0;
p.samples.forEach((id, i) => {
  const us = p.timeDeltas[i] ?? 0;
  at += us;
  if (window && (at < window[0]! || at >= window[1]!)) return;
  selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  const s = Math.floor(at / 1e6);
  if (!isIdle(id)) perSecond[s] = (perSecond[s] ?? 0) + us;
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idle = [...selfUs.entries()].filter(([id]) => isIdle(id)).reduce((a, [, v]) => a + v, 0);
if (!window) console.log(`busy share of each second since the profile started (pick a window with FROM-TO):\n${[...perSecond].map((us, s) => `${s}:${Math.round((us ?? 0) / 1e4)}%`).join(" ")}\n`);

const short = (u: string): string => u.replace(/^file:\/\//, "").replace(/.*\/node_modules\//, "~/").replace(/.*\/work\/main\//, "");
const key = (n: Node): string => `${n.callFrame.functionName || "(anonymous)"} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const self = new Map<string, number>();
const incl = new Map<string, number>();
for (const [id, us] of selfUs) {
  self.set(key(byId.get(id)!), (self.get(key(byId.get(id)!)) ?? 0) + us);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const k = key(byId.get(cur)!);
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + us);
  }
}
const busy = total - idle;
const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
console.log(`${file}${window ? ` (${windowArg} s)` : ""}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy time)`);
console.log(`\ntop ${top} by self time:`);
for (const [k, us] of [...self].filter(([k]) => !k.startsWith("(idle)") && !k.startsWith("(program)")).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`);
console.log(`\ntop ${top} by inclusive time:`);
for (const [k, us] of [...incl].filter(([k]) => !/^\((root|idle|program)\)/.test(k)).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`);
