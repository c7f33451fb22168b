// Summarises a sampling heap profile (bench/src/heap-sample.mjs): the
// functions that allocate most, by their own allocations and with what
// they call. Usage: node --import tsx bench/src/heap-top.ts FILE.heapprofile [N]
import { readFileSync } from "node:fs";

interface HeapNode {
  id: number;
  selfSize: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: HeapNode[];
}
interface HeapProfile {
  head: HeapNode;
  samples?: { size: number; nodeId: number }[];
}

const [file, nArg] = process.argv.slice(2);
if (!file) throw new Error("usage: heap-top.ts FILE.heapprofile [N]");
const top = Number(nArg ?? 30);
const p = JSON.parse(readFileSync(file, "utf8")) as HeapProfile;
// With samples, a node's bytes are its samples' (collected objects included); otherwise its selfSize.
const sampled = new Map<number, number>();
for (const s of p.samples ?? []) sampled.set(s.nodeId, (sampled.get(s.nodeId) ?? 0) + s.size);
const own = (n: HeapNode): number => (p.samples ? (sampled.get(n.id) ?? 0) : n.selfSize);

const short = (u: string): string => u.replace(/^file:\/\//, "").replace(/.*\/node_modules\//, "~/").replace(/.*\/work\/main\//, "");
const key = (n: HeapNode): string => `${n.callFrame.functionName || "(anonymous)"} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
function walk(n: HeapNode, above: Set<string>): number {
  const k = key(n);
  const mine = own(n);
  total += mine;
  self.set(k, (self.get(k) ?? 0) + mine);
  const below = new Set(above).add(k);
  let sum = mine;
  for (const c of n.children ?? []) sum += walk(c, below);
  // A recursive frame counts once.
  if (!above.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + sum);
  return sum;
}
walk(p.head, new Set());
const print = (m: Map<string, number>): void => {
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${(v / 1e6).toFixed(1).padStart(8)} MB  ${k}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(1)} MB allocated (sampled)\n\ntop ${top} by own allocations:`);
print(self);
console.log(`\ntop ${top} with what they call:`);
print(inclusive);
