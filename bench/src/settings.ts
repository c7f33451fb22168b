// What the bench runs with: the sizes and durations of the two modes, and
// the constants every phase shares.

/** In-flight calls of every closed loop, and the worker's concurrency (taskwire and BullMQ alike). */
export const CONC = 64;
/** The no-op task of bench/src/tasks.ts. */
export const TASK = "bench_noop";

export interface Settings {
  /** Messages of the raw JetStream ceiling (half as many KV create + publish). */
  rawN: number;
  /** Duration of each closed-loop Submit and echo measurement. */
  closedMs: number;
  /** Rate and duration of the Submit and echo open loops. */
  openRate: number;
  openMs: number;
  /** SubmitBatch / addBulk: runs per call, calls in flight, duration. */
  batchSize: number;
  batchConc: number;
  batchMs: number;
  /** Runs of each end-to-end burst and of the drain. */
  e2eN: number;
  /** Rate and duration of the paced end-to-end runs. */
  pacedRate: number;
  pacedMs: number;
  /** Runs queued for the broker memory figure. */
  memN: number;
  /** Runs counted for the NATS operations per run. */
  costN: number;
  /** Runs retained (seeded) for the ListRuns figures. */
  listN: number;
  /** Runs queued (no worker), then drained and retained, for the scale phase. */
  scaleN: number;
}

export const QUICK_SETTINGS: Settings = { rawN: 20_000, closedMs: 3_000, openRate: 1_000, openMs: 5_000, batchSize: 100, batchConc: 4, batchMs: 3_000, e2eN: 5_000, pacedRate: 1_000, pacedMs: 5_000, memN: 20_000, costN: 500, listN: 100_000, scaleN: 50_000 };
export const FULL_SETTINGS: Settings = { rawN: 100_000, closedMs: 10_000, openRate: 1_000, openMs: 20_000, batchSize: 100, batchConc: 4, batchMs: 10_000, e2eN: 50_000, pacedRate: 1_000, pacedMs: 15_000, memN: 100_000, costN: 2_000, listN: 1_000_000, scaleN: 500_000 };
