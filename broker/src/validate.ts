import { createHash } from "node:crypto";
import { type GetStatusRequest, type RetryPolicy, type StreamEventsRequest, SubmitOptions, type SubmitRequest, type Payload } from "@taskwire/protocol";
import { DEFAULT_QUEUE, isRunId, isUuid, QUEUE_NAME_RE, TASK_NAME_RE } from "@taskwire/core";
import { status as Status } from "@grpc/grpc-js";
import { BrokerError } from "./errors.js";
import { parsePageToken } from "./listing/cursor.js";

const invalid = BrokerError.invalid;

/**
 * The limits of every string, list, map and number a caller can send
 * (docs/limits.md lists them). A request over one is INVALID_ARGUMENT naming
 * the field and the limit — never INTERNAL, and never a run that breaks later.
 */
export const LIMITS = {
  contentTypeChars: 256,
  idempotencyKeyChars: 256,
  cacheKeyChars: 1024,
  concurrencyKeyChars: 256,
  labels: 32,
  labelKeyChars: 64,
  labelValueChars: 256,
  waitFor: 100,
  /** Longest per-attempt timeout and schedule-to-start timeout: 365 days, in ms. */
  durationMs: 365 * 86_400_000,
  /** Longest single retry delay: 30 days, in ms. */
  retryDelayMs: 30 * 86_400_000,
  retryDelays: 100,
  retryTypeNames: 64,
  retryTypeNameChars: 128,
  maxRetries: 100,
  backoffMultiplier: 100,
  /** A SubmitStream message's trace context (traceparent, tracestate, baggage). */
  traceContextEntries: 8,
  traceContextKeyChars: 64,
  traceContextValueChars: 1024,
} as const;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const EXAMPLE_ID = "0190b2a4-7c3e-7d4a-9f00-1c2d3e4f5a6b";

export interface ValidSubmit {
  task: string;
  queue: string;
  args: Payload;
  options: SubmitOptions;
  /** When the run is due, ms since epoch. */
  dueAt: number;
  /** The client's request id ("" when none): a UUID, the same for every retry of one Submit. */
  requestId: string;
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

function maxChars(field: string, v: string, max: number): void {
  if (v.length > max) throw invalid(field, `is ${v.length} characters; the limit is ${max}`);
}

function maxItems(field: string, n: number, max: number, what = "entries"): void {
  if (n > max) throw invalid(field, `has ${n} ${what}; the limit is ${max}`);
}

function validateRetry(r: RetryPolicy, f: string): void {
  if (!Number.isInteger(r.maxRetries) || r.maxRetries < 0 || r.maxRetries > LIMITS.maxRetries) throw invalid(`${f}.max_retries`, `must be 0–${LIMITS.maxRetries}, got ${r.maxRetries}`);
  nonNegative(`${f}.initial_delay_ms`, r.initialDelayMs, LIMITS.retryDelayMs);
  nonNegative(`${f}.max_delay_ms`, r.maxDelayMs, LIMITS.retryDelayMs);
  nonNegative(`${f}.backoff_multiplier`, r.backoffMultiplier, LIMITS.backoffMultiplier);
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw invalid(`${f}.jitter`, `must be between 0 and 1, got ${r.jitter}`);
  maxItems(`${f}.delays_ms`, r.delaysMs.length, LIMITS.retryDelays, "delays");
  r.delaysMs.forEach((d, i) => nonNegative(`${f}.delays_ms[${i}]`, d, LIMITS.retryDelayMs));
  for (const [name, list] of [["retry_on", r.retryOn], ["never_retry_on", r.neverRetryOn]] as const) {
    maxItems(`${f}.${name}`, list.length, LIMITS.retryTypeNames, "error types");
    list.forEach((t, i) => maxChars(`${f}.${name}[${i}]`, t, LIMITS.retryTypeNameChars));
  }
}

export function validatePayload(p: Payload | undefined, field: string, maxBytes: number): Payload {
  const payload: Payload = p ?? { contentType: "application/json", data: Buffer.from("[]") };
  if (payload.data.length > maxBytes) {
    throw new BrokerError(Status.RESOURCE_EXHAUSTED, `${field}: payload is ${payload.data.length} bytes, over the limit of ${maxBytes} bytes; pass a reference (a URL or object key) instead of the data, or raise TASKWIRE_MAX_PAYLOAD_BYTES`);
  }
  const ct = payload.contentType || "application/json";
  maxChars(`${field}.content_type`, ct, LIMITS.contentTypeChars);
  if (!/^[\x21-\x7e]+(?:[ \t]*;[\x20-\x7e]*)?$/.test(ct)) throw invalid(`${field}.content_type`, `"${ct.slice(0, 80)}" is not a media type: use printable ASCII such as "application/json" or "application/octet-stream"`);
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

/** What the broker's settings bound: payload size and how far ahead a run may be due (the retention: a record must outlive its wait). */
export interface SubmitBounds {
  maxPayloadBytes: number;
  /** Retention of run records, in ms: a delay or cache TTL beyond it is refused. @default 7 days */
  retentionMs?: number;
}

export function validateSubmit(req: SubmitRequest, bounds: number | SubmitBounds, prefix = ""): ValidSubmit {
  const { maxPayloadBytes, retentionMs = 604_800_000 } = typeof bounds === "number" ? { maxPayloadBytes: bounds } : bounds;
  validateTaskName(req.task, `${prefix}task`);
  const args = validatePayload(req.args, `${prefix}args`, maxPayloadBytes);
  const o: SubmitOptions = req.options ?? SubmitOptions.fromPartial({});
  const f = `${prefix}options`;
  const queue = o.queue || DEFAULT_QUEUE;
  if (!QUEUE_NAME_RE.test(queue)) throw invalid(`${f}.queue`, `"${queue.slice(0, 80)}" is not a valid queue name: use 1–64 characters of a-z, 0-9 and "-"`);
  maxChars(`${f}.idempotency_key`, o.idempotencyKey, LIMITS.idempotencyKeyChars);
  const requestId = req.requestId ?? "";
  if (requestId && !isUuid(requestId)) throw invalid(`${prefix}request_id`, `"${requestId.slice(0, 80)}" is not a UUID: send a new UUIDv7 per Submit (the same one with each retry of it), or leave it empty`);
  maxChars(`${f}.concurrency_key`, o.concurrencyKey, LIMITS.concurrencyKeyChars);
  if (!Number.isInteger(o.priority) || o.priority < -100 || o.priority > 100) throw invalid(`${f}.priority`, `must be an integer in -100..100, got ${o.priority}`);
  if (o.retry) validateRetry(o.retry, `${f}.retry`);
  nonNegative(`${f}.timeout_ms`, o.timeoutMs, LIMITS.durationMs);
  // A run must not wait longer than its record is kept, or the record ages
  // out before it is due and its message would find nothing to run.
  nonNegative(`${f}.delay_ms`, o.delayMs, retentionMs);
  nonNegative(`${f}.cache_ttl_ms`, o.cacheTtlMs, retentionMs);
  nonNegative(`${f}.schedule_to_start_timeout_ms`, o.scheduleToStartTimeoutMs, LIMITS.durationMs);
  if (o.delayMs > 0 && o.scheduledAt) throw invalid(`${f}.delay_ms`, "set either delay_ms or scheduled_at, not both");
  maxChars(`${f}.cache_key`, o.cacheKey, LIMITS.cacheKeyChars);
  const labels = Object.entries(o.labels);
  maxItems(`${f}.labels`, labels.length, LIMITS.labels);
  for (const [k, v] of labels) {
    if (!k || k.length > LIMITS.labelKeyChars) throw invalid(`${f}.labels`, `key "${k.slice(0, 80)}" must be 1–${LIMITS.labelKeyChars} characters`);
    maxChars(`${f}.labels[${k.slice(0, 64)}]`, v, LIMITS.labelValueChars);
  }
  maxItems(`${f}.wait_for`, o.waitFor.length, LIMITS.waitFor, "run ids");
  o.waitFor.forEach((id, i) => validateRunId(id, `${f}.wait_for[${i}]`));
  const now = Date.now();
  const dueAt = o.scheduledAt ? o.scheduledAt.getTime() : now + o.delayMs;
  if (!Number.isFinite(dueAt)) throw invalid(`${f}.scheduled_at`, "is not a valid time");
  if (o.scheduledAt && dueAt - now > retentionMs) throw invalid(`${f}.scheduled_at`, `is ${Math.round((dueAt - now) / 86_400_000)} days ahead; a run may be due at most the retention (${Math.round(retentionMs / 86_400_000)} days, TASKWIRE_RETENTION_MS) ahead`);
  // No explicit cache key: the arguments are the key.
  const cacheKey = o.cacheTtlMs > 0 && !o.cacheKey ? `args:${createHash("sha256").update(args.contentType).update("\0").update(args.data).digest("hex")}` : o.cacheKey;
  return { task: req.task, queue, args, options: { ...o, queue, cacheKey }, dueAt, requestId };
}

export const MAX_WAIT_MS = 300_000;

/** A SubmitStream message's W3C trace context: ≤ 8 entries, keys ≤ 64 and values ≤ 1024 characters. */
export function validateTraceContext(tc: Record<string, string>, field = "trace_context"): void {
  const entries = Object.entries(tc);
  maxItems(field, entries.length, LIMITS.traceContextEntries);
  for (const [k, v] of entries) {
    maxChars(`${field} key "${k.slice(0, 64)}"`, k, LIMITS.traceContextKeyChars);
    maxChars(`${field}[${k.slice(0, 64)}]`, v, LIMITS.traceContextValueChars);
  }
}

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
  maxItems("run_ids", req.runIds.length, 1000, "ids");
  maxItems("tasks", req.tasks.length, 1000, "tasks");
  maxItems("states", req.states.length, 16, "states");
  req.runIds.forEach((id, i) => validateRunId(id, `run_ids[${i}]`));
  req.tasks.forEach((t, i) => validateTaskName(t, `tasks[${i}]`));
  const afterSeq = parseCursor(req.afterCursor);
  const hb = req.heartbeatIntervalMs;
  if (hb !== 0 && (hb < 100 || hb > 300_000)) throw invalid("heartbeat_interval_ms", `must be 0 (default 15000) or 100–300000, got ${hb}`);
  if (req.untilTerminal && req.runIds.length === 0) throw invalid("until_terminal", "needs run_ids: name the runs whose end closes the stream");
  return { afterSeq, heartbeatMs: hb || 15_000 };
}

/** ListRuns filters and paging. */
export function validateListRuns(req: { task: string; queue: string; states: readonly number[]; pageSize: number; pageToken: string }): void {
  if (req.task) validateTaskName(req.task);
  if (req.queue && !QUEUE_NAME_RE.test(req.queue)) throw invalid("queue", `"${req.queue.slice(0, 80)}" is not a valid queue name: use 1–64 characters of a-z, 0-9 and "-"`);
  maxItems("states", req.states.length, 16, "states");
  if (!Number.isInteger(req.pageSize) || req.pageSize < 0 || req.pageSize > 1000) throw invalid("page_size", `must be 0 (default 50) or 1–1000, got ${req.pageSize}`);
  if (req.pageToken && !parsePageToken(req.pageToken)) throw invalid("page_token", `"${req.pageToken.slice(0, 80)}" is not a page token: pass the next_page_token of the previous page (or a run id, to list the runs older than it)`);
}
