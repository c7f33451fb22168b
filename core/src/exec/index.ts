// NATS-side execution helpers shared by the TS worker and the broker's
// remote-worker sessions (WorkerService): the task consumers, heartbeats,
// claiming a delivered run, recording its outcome, its log and progress,
// rate limits and per-key slots. What runs the task function stays with
// its executor.
export { type ExecDeps, type ExecLog, type ExecSettings, type Holders, type TaskSpec } from "./deps.js";
export { ensureTaskConsumer } from "./consumers.js";
export { Heartbeats } from "./heartbeat.js";
export { AckBatcher, ACK_BATCH_MAX, type Acker } from "./acks.js";
export { claimRun, type Claimed } from "./claim.js";
export { DeferredStart } from "./start.js";
export { completedResult, recordAttempt, RECORD_RETRY_MS, type RecordedAttempt } from "./record.js";
export { RunLog } from "./runlog.js";
export { RateLimiter, type RateLimit, type RateDecision } from "./ratelimit.js";
export { KeySlots } from "./keylimit.js";
