// Records a bench process's event-loop stalls and GC pauses with their
// wall-clock times, to line them up with the slow runs of the paced phase
// (TASKWIRE_BENCH_SLOW_RUNS) and with the other processes' stalls. Loaded
// into the broker and worker processes with
//   TASKWIRE_STALLS_DIR=/tmp/st TASKWIRE_BENCH_SLOW_RUNS=/tmp/st/slow.jsonl \
//   TASKWIRE_BENCH_NODE_FLAGS=--import=$PWD/bench/src/stalls.mjs bash bench/run.sh --only=e2e --skip-bullmq
// Each process writes <dir>/<command>-<pid>.stalls.json when it is told to
// stop (SIGTERM, SIGINT) or exits: a list of
//   { kind: "stall", at, ms }  a 1 ms interval timer came back `ms` late (over STALL_MS),
//   { kind: "gc-minor" | "gc-major" | "gc-incremental" | "gc-weak", at, ms }  a GC pause over GC_MS,
// `at` in ms since the epoch. A stall with a GC of its own is that GC; a
// stall in the broker and the worker at the same moment with no GC in
// either is the machine (both processes off the CPU).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { constants, performance, PerformanceObserver } from "node:perf_hooks";

const dir = process.env.TASKWIRE_STALLS_DIR;
const STALL_MS = 4;
const GC_MS = 1;
const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "gc-minor",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "gc-major",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "gc-incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "gc-weak",
};
if (dir) {
  const events = [];
  // A monotonic time as realtime ms (what the runs' stored times use), read
  // at the moment of the conversion: timeOrigin is realtime only as of the
  // process's start (see clock.ts).
  const realtime = (mono) => Date.now() - (performance.now() - mono);
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last > STALL_MS) events.push({ kind: "stall", at: Math.round(realtime(last)), ms: +(now - last).toFixed(2) });
    last = now;
  }, 1);
  timer.unref();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration > GC_MS) events.push({ kind: GC_KINDS[e.detail?.kind] ?? "gc", at: Math.round(realtime(e.startTime)), ms: +e.duration.toFixed(2) });
    }
  }).observe({ entryTypes: ["gc"] });
  const command = process.argv.slice(2).find((a) => /^[a-z]+$/.test(a)) ?? "node";
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    writeFileSync(join(dir, `${command}-${process.pid}.stalls.json`), JSON.stringify(events));
  };
  process.once("SIGTERM", write);
  process.once("SIGINT", write);
  process.once("exit", write);
}
