// Counts the promises a bench process makes, and where, to see what a run
// costs in promises (each one is an allocation, a microtask or two, and —
// with AsyncLocalStorage on Node 20 — an async_hooks callback). Loaded into
// the broker and worker processes with
//   TASKWIRE_PROMISE_COUNT_DIR=/tmp/pc TASKWIRE_BENCH_NODE_FLAGS=--import=$PWD/bench/src/promise-count.mjs bash bench/run.sh --only=drain --skip-bullmq
// Each process writes <dir>/<command>-<pid>.promises.txt when it is told to
// stop (SIGTERM, SIGINT) or exits: the total, then the creation sites of
// every 97th promise (the four innermost frames, node:internal hooks left
// out), most frequent first, scaled back up. Divide by the runs the phase
// executed (50,000 in a full-mode drain) for promises per run.
// Taking a stack trace per sample slows the process: compare counts, not rates.
import { createHook } from "node:async_hooks";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.TASKWIRE_PROMISE_COUNT_DIR;
const EVERY = 97;
if (dir) {
  const sites = new Map();
  let total = 0;
  let sampling = false;
  createHook({
    init(_id, type) {
      if (type !== "PROMISE" || sampling) return;
      if (++total % EVERY !== 0) return;
      sampling = true; // the stack trace below makes no promise, but stay safe
      const frames = (new Error().stack ?? "")
        .split("\n")
        .slice(1)
        .map((l) => l.trim().replace(/^at /, ""))
        .filter((l) => !l.includes("node:internal/async_hooks") && !l.includes("promise-count.mjs"))
        .map((l) => l.replace(/\(.*\/(node_modules|main)\//, "("))
        .slice(0, 4)
        .join(" < ");
      sites.set(frames, (sites.get(frames) ?? 0) + 1);
      sampling = false;
    },
  }).enable();
  const command = process.argv.slice(2).find((a) => /^[a-z]+$/.test(a)) ?? "node";
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    const lines = [...sites].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${n * EVERY}\t${s}`);
    writeFileSync(join(dir, `${command}-${process.pid}.promises.txt`), `total\t${total}\n${lines.join("\n")}\n`);
  };
  process.once("SIGTERM", write);
  process.once("SIGINT", write);
  process.once("exit", write);
}
