import { createHash } from "node:crypto";
import { type GetStatusRequest, type RetryPolicy, type StreamEventsRequest, SubmitOptions, type SubmitRequest, type Payload } from "@taskwire/protocol";
import { DEFAULT_QUEUE, isRunId, QUEUE_NAME_RE, TASK_NAME_RE } from "@taskwire/core";
import { status as Status } from "@grpc/grpc-js";
import { BrokerError } from "./errors.js";

const invalid = BrokerError.invalid;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const EXAMPLE_ID = "0190b2a4-7c3e-7d4a-9f00-1c2d3e4f5a6b";

export interface ValidSubmit {
  task: string;
  queue: string;
  args: Payload;
  options: SubmitOptions;
  /** When the run is due, ms since epoch. */
  dueAt: number;
}

export function validateTaskName(task: string, field = "task"): void {
  if (!task) throw invalid(field, "is required: name the task to run, e.g. \"send-email\"");
  if (!TASK_NAME_RE.test(task)) throw invalid(field, `"${task.slice(0, 140)}" is not a valid task name: use 1–128 characters of letters, digits, "-" and "_"`);
}

export function validateRunId(id: string, field = "run_id"): void {
  if (!id) throw invalid(field, `is required (a run id such as ${EXAMPLE_ID})`);
  if (!isRunId(id)) throw invalid(field, `"${id.slice(0, 80)}" is not a run id: expected a UUIDv7 such as ${EXAMPLE_ID}, as returned by Submit`);
}

function nonNegative(field: string, v: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isFinite(v) || v < 0) throw invalid(field, `must be >= 0, got ${v}`);
  if (v > max) throw invalid(field, `must be <= ${max}, got ${v}`);
}

function validateRetry(r: RetryPolicy, f: string): void {
  if (!Number.isInteger(r.maxRetries) || r.maxRetries < 0 || r.maxRetries > 100) throw invalid(`${f}.max_retries`, `must be 0–100, got ${r.maxRetries}`);
  nonNegative(`${f}.initial_delay_ms`, r.initialDelayMs);
  nonNegative(`${f}.max_delay_ms`, r.maxDelayMs);
  nonNegative(`${f}.backoff_multiplier`, r.backoffMultiplier, 100);
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw invalid(`${f}.jitter`, `must be between 0 and 1, got ${r.jitter}`);
  r.delaysMs.forEach((d, i) => nonNegative(`${f}.delays_ms[${i}]`, d));
}

export function validatePayload(p: Payload | undefined, field: string, maxBytes: number): Payload {
  const payload: Payload = p ?? { contentType: "application/json", data: Buffer.from("[]") };
  if (payload.data.length > maxBytes) {
    throw new BrokerError(Status.RESOURCE_EXHAUSTED, `${field}: payload is ${payload.data.length} bytes, over the limit of ${maxBytes} bytes; pass a reference (a URL or object key) instead of the data, or raise TASKWIRE_MAX_PAYLOAD_BYTES`);
  }
  const ct = payload.contentType || "application/json";
  if (ct === "application/json") {
    if (payload.data.length === 0) return { contentType: ct, data: Buffer.from("[]") };
    try {
      JSON.parse(utf8.decode(payload.data));
    } catch (err) {
      throw invalid(field, `content type is application/json but data is not valid JSON (${err instanceof Error ? err.message : String(err)}); send a JSON array of arguments such as [1, "two"]`);
    }
  }
  return { contentType: ct, data: payload.data };
}

export function validateSubmit(req: SubmitRequest, maxPayloadBytes: number, prefix = ""): ValidSubmit {
  validateTaskName(req.task, `${prefix}task`);
  const args = validatePayload(req.args, `${prefix}args`, maxPayloadBytes);
  const o: SubmitOptions = req.options ?? SubmitOptions.fromPartial({});
  const f = `${prefix}options`;
  const queue = o.queue || DEFAULT_QUEUE;
  if (!QUEUE_NAME_RE.test(queue)) throw invalid(`${f}.queue`, `"${queue.slice(0, 80)}" is not a valid queue name: use 1–64 characters of a-z, 0-9 and "-"`);
  if (o.idempotencyKey.length > 256) throw invalid(`${f}.idempotency_key`, `is ${o.idempotencyKey.length} characters; the limit is 256`);
  if (!Number.isInteger(o.priority) || o.priority < -100 || o.priority > 100) throw invalid(`${f}.priority`, `must be an integer in -100..100, got ${o.priority}`);
  if (o.retry) validateRetry(o.retry, `${f}.retry`);
  nonNegative(`${f}.timeout_ms`, o.timeoutMs);
  nonNegative(`${f}.delay_ms`, o.delayMs);
  nonNegative(`${f}.cache_ttl_ms`, o.cacheTtlMs);
  nonNegative(`${f}.schedule_to_start_timeout_ms`, o.scheduleToStartTimeoutMs);
  if (o.delayMs > 0 && o.scheduledAt) throw invalid(`${f}.delay_ms`, "set either delay_ms or scheduled_at, not both");
  if (o.cacheKey.length > 1024) throw invalid(`${f}.cache_key`, `is ${o.cacheKey.length} characters; the limit is 1024`);
  const labels = Object.entries(o.labels);
  if (labels.length > 32) throw invalid(`${f}.labels`, `has ${labels.length} entries; the limit is 32`);
  for (const [k, v] of labels) {
    if (!k || k.length > 64) throw invalid(`${f}.labels`, `key "${k.slice(0, 80)}" must be 1–64 characters`);
    if (v.length > 256) throw invalid(`${f}.labels[${k}]`, `value is ${v.length} characters; the limit is 256`);
  }
  if (o.waitFor.length > 100) throw invalid(`${f}.wait_for`, `has ${o.waitFor.length} run ids; the limit is 100`);
  o.waitFor.forEach((id, i) => validateRunId(id, `${f}.wait_for[${i}]`));
  const now = Date.now();
  const dueAt = o.scheduledAt ? o.scheduledAt.getTime() : now + o.delayMs;
  if (!Number.isFinite(dueAt)) throw invalid(`${f}.scheduled_at`, "is not a valid time");
  // No explicit cache key: the arguments are the key.
  const cacheKey = o.cacheTtlMs > 0 && !o.cacheKey ? `args:${createHash("sha256").update(args.contentType).update("\0").update(args.data).digest("hex")}` : o.cacheKey;
  return { task: req.task, queue, args, options: { ...o, queue, cacheKey }, dueAt };
}

export const MAX_WAIT_MS = 300_000;

export function validateGetStatus(req: GetStatusRequest): void {
  validateRunId(req.runId);
  if (req.waitTimeoutMs < 0) throw invalid("wait_timeout_ms", `must be >= 0 (0 answers at once), got ${req.waitTimeoutMs}`);
  if (req.waitTimeoutMs > MAX_WAIT_MS) throw invalid("wait_timeout_ms", `must be <= ${MAX_WAIT_MS} (5 minutes), got ${req.waitTimeoutMs}; call again to wait longer`);
}

/** Parses an event cursor ("<stream sequence>"); 0 when empty. */
export function parseCursor(cursor: string, field = "after_cursor"): number {
  if (!cursor) return 0;
  if (!/^[1-9][0-9]{0,15}$/.test(cursor)) throw invalid(field, `"${cursor.slice(0, 40)}" is not a cursor: pass RunEvent.cursor or Heartbeat.cursor from an earlier stream unchanged`);
  return Number(cursor);
}

export function validateStreamEvents(req: StreamEventsRequest): { afterSeq: number; heartbeatMs: number } {
  req.runIds.forEach((id, i) => validateRunId(id, `run_ids[${i}]`));
  req.tasks.forEach((t, i) => validateTaskName(t, `tasks[${i}]`));
  if (req.runIds.length > 1000) throw invalid("run_ids", `has ${req.runIds.length} ids; the limit is 1000`);
  const afterSeq = parseCursor(req.afterCursor);
  const hb = req.heartbeatIntervalMs;
  if (hb !== 0 && (hb < 100 || hb > 300_000)) throw invalid("heartbeat_interval_ms", `must be 0 (default 15000) or 100–300000, got ${hb}`);
  if (req.untilTerminal && req.runIds.length === 0) throw invalid("until_terminal", "needs run_ids: name the runs whose end closes the stream");
  return { afterSeq, heartbeatMs: hb || 15_000 };
}
