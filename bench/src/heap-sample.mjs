// Allocation sampling for a bench process, including what the GC has
// already collected (V8's sampling heap profiler with
// includeObjectsCollectedByMajorGC/MinorGC): where a process allocates,
// not what it keeps. Loaded into the broker and worker processes with
//   TASKWIRE_HEAP_SAMPLE_DIR=/tmp/hs TASKWIRE_BENCH_NODE_FLAGS=--import=$PWD/bench/src/heap-sample.mjs bash bench/run.sh --only=drain --skip-bullmq
// and summarised with
//   node --import tsx bench/src/heap-top.ts /tmp/hs/<file>.heapprofile 40
// Each process writes <dir>/<command>-<pid>.heapprofile (broker, worker) when it is told to stop
// (SIGTERM, SIGINT) or exits. Sampling every 1 KiB slows the process by
// about half: compare shares within a profile, not rates across runs.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env.TASKWIRE_HEAP_SAMPLE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("HeapProfiler.enable");
  session.post("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const command = process.argv.slice(2).find((a) => /^[a-z]+$/.test(a)) ?? "node";
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    // An in-process inspector session answers synchronously.
    session.post("HeapProfiler.stopSampling", (err, res) => {
      if (err) process.stderr.write(`heap-sample: ${err.message}\n`);
      else writeFileSync(join(dir, `${command}-${process.pid}.heapprofile`), JSON.stringify(res.profile));
    });
  };
  process.once("SIGTERM", write);
  process.once("SIGINT", write);
  process.once("exit", write);
}
