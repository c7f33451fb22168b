// Task module served by the bench's taskwire worker process
// (`taskwire worker bench/src/tasks.ts --concurrency 64`).
import { task } from "@taskwire/client";
import { wallNow } from "./clock.js";

/**
 * A no-op task taking the bench payload. Its result is the wall-clock time
 * (ms, sub-ms resolution) at which it started, so the bench can measure
 * dispatch latency (Submit accepted → task started) across processes.
 */
export const benchNoop = task("bench_noop", (_payload: unknown) => wallNow());
