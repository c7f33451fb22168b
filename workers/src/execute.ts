import { Worker as Thread } from "node:worker_threads";
import type { JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { decodeArgs, encodeJson, type AnyTaskDefinition, type TaskContext } from "@taskwire/client";
import { runWithContext, toSubmitOptions } from "@taskwire/client/internal";
import { AttemptOutcome, CacheEntry, EventType, type Failure, type Payload, RunState, type SubmitOptions, type TaskRun } from "@taskwire/client/gen";
import { cacheEntryKey, decodeRunMessage, extractHeaders, extractTraceParent, isTerminal, type RunStore, type StoredRun } from "@taskwire/core";
import type { Logger } from "pino";
import { failureOf } from "./failure.js";
import type { ResolvedWorkerOptions } from "./options.js";
import { decideRetry } from "./retry.js";
import { RunLog } from "./runlog.js";
import type { RateLimiter } from "./ratelimit.js";
import type { KeySlots } from "./keylimit.js";

const tracer = trace.getTracer("@taskwire/worker");

/** How long a cancelled or timed-out task may take to notice its signal before the slot is taken back, in ms. */
const ABORT_GRACE_MS = 2_000;

export interface ExecDeps {
  store: RunStore;
  /** The taskwire_cache bucket: completed runs with a cache key fill it. */
  cache: KV;
  /** Shared rate-limit windows. */
  rateLimiter: RateLimiter;
  /** Object Store for results above the inline limit. */
  results: ObjectStore;
  /** Per-key concurrency slots. */
  keySlots: KeySlots;
  options: ResolvedWorkerOptions;
  log: Logger;
  /** Registers the abort function of a running run (for cancel notices); returns an unregister function. */
  registerAbort(runId: string, abort: (reason: string) => void): () => void;
}

type Outcome =
  | { kind: "ok"; value: unknown }
  | { kind: "error"; err: unknown }
  | { kind: "timeout" }
  | { kind: "cancelled"; reason: string };

const now = (): Date => new Date();

function withAttempt(run: TaskRun, n: number, patch: Partial<TaskRun["attempts"][number]>): TaskRun["attempts"] {
  return run.attempts.map((a) => (a.number === n ? { ...a, ...patch } : a));
}

/**
 * Claims one delivered run: records the start (RUNNING) with
 * compare-and-set, or settles the message when the run needs no execution.
 * Returns the claimed record, or undefined when the message was settled.
 */
const taskDefaults = new WeakMap<AnyTaskDefinition, SubmitOptions>();

/**
 * The run's options with the task definition's defaults filled in where the
 * submitter left them unset. A submitter that knows only the task's name
 * (another language, `Client.submit`) still gets the retries and timeout the
 * task's author declared; per-call options win.
 */
function withTaskDefaults(o: TaskRun["options"], def: AnyTaskDefinition): TaskRun["options"] {
  // The definition's options never change: map them to proto options once.
  let base = taskDefaults.get(def);
  if (!base) taskDefaults.set(def, (base = toSubmitOptions(def.options)));
  if (!o) return base;
  return {
    ...o,
    retry: o.retry ?? base.retry,
    timeoutMs: o.timeoutMs || base.timeoutMs,
    scheduleToStartTimeoutMs: o.scheduleToStartTimeoutMs || base.scheduleToStartTimeoutMs,
  };
}

async function claim(m: JsMsg, deps: ExecDeps, msgRun: TaskRun, def: AnyTaskDefinition): Promise<{ stored: StoredRun; keyHeld: boolean } | undefined> {
  const { store, options } = deps;
  // When the message carries the record's revision (released by the
  // scheduler), try the CAS against it on first delivery and skip a read.
  let known: StoredRun | undefined = m.info.deliveryCount === 1 && msgRun.revision > 0 ? { run: msgRun, revision: msgRun.revision } : undefined;
  if (!known) {
    known = await store.get(msgRun.id);
  }
  if (!known) {
    // The broker writes the record and publishes the message in parallel;
    // the message can arrive first. It carries the record, so create it
    // from there (the broker's identical create then finds it).
    const revision = await store.create({ ...msgRun, revision: 0 });
    known = revision !== undefined ? { run: { ...msgRun, revision }, revision } : await store.get(msgRun.id);
  }
  let admittedAt: Date | undefined;
  const rl = def.options.rateLimit;
  if (rl && known && !isTerminal(known.run.state) && !known.run.cancelRequested && known.run.state !== RunState.RUN_STATE_RUNNING) {
    // Over the task's rate limit: back to the queue until a place frees up.
    const d = await deps.rateLimiter.acquire(known.run.task, known.run.options?.concurrencyKey ?? "", rl);
    if ("waitMs" in d) {
      m.nak(d.waitMs);
      return undefined;
    }
    // The start is the moment the limiter admitted it.
    admittedAt = new Date(d.grantedAt);
  }
  // Per-key concurrency: at most N runs of the task at once per key.
  const keyLimit = def.options.keyConcurrencyLimit ?? 0;
  const limitKey = known?.run.options?.concurrencyKey ?? "";
  let keyHeld = false;
  if (keyLimit > 0 && limitKey && known && !isTerminal(known.run.state) && !known.run.cancelRequested) {
    keyHeld = await deps.keySlots.acquire(known.run.task, limitKey, known.run.id, keyLimit);
    if (!keyHeld) {
      m.nak(Math.min(250, options.heartbeatMs));
      return undefined;
    }
  }
  const giveBack = async (): Promise<void> => {
    if (keyHeld && known) await deps.keySlots.release(known.run.task, limitKey, known.run.id);
  };
  let settle: (() => void) | undefined;
  const res = await store.transition(
    msgRun.id,
    (run) => {
      settle = undefined;
      const t = now();
      if (isTerminal(run.state)) {
        // The first terminal state wins: a redelivered run that already
        // finished is acked and never executed again.
        settle = () => m.ack();
        return { skip: true };
      }
      if (run.cancelRequested) {
        settle = () => m.ack();
        return {
          write: { ...run, state: RunState.RUN_STATE_CANCELLED, lastEvent: EventType.EVENT_TYPE_CANCELLED, finishedAt: t, updatedAt: t, error: run.error ?? { type: "Cancelled", message: "cancelled before it started", stack: "", retryable: false } },
        };
      }
      const sts = withTaskDefaults(run.options, def)?.scheduleToStartTimeoutMs ?? 0;
      const dueAt = run.scheduledAt?.getTime() ?? run.createdAt?.getTime() ?? t.getTime();
      if (sts > 0 && run.attempt === 0 && run.state === RunState.RUN_STATE_PENDING && t.getTime() - dueAt > sts) {
        // Not started within its schedule-to-start timeout: it expires
        // instead of running late.
        settle = () => m.ack();
        const error: Failure = { type: "ScheduleToStartTimeout", message: `not started within ${sts} ms of becoming due (waited ${t.getTime() - dueAt} ms)`, stack: "", retryable: false };
        return { write: { ...run, state: RunState.RUN_STATE_FAILED, lastEvent: EventType.EVENT_TYPE_EXPIRED, error, finishedAt: t, updatedAt: t } };
      }
      const due = run.state === RunState.RUN_STATE_AWAITING_RETRY ? (run.nextAttemptAt?.getTime() ?? 0) : 0;
      if (due - t.getTime() > 5) {
        // Redelivered early (e.g. after a worker restart): wait out the backoff.
        const wait = due - t.getTime();
        settle = () => m.nak(wait);
        return { skip: true };
      }
      if (run.state === RunState.RUN_STATE_RUNNING) {
        // Delivered again while recorded as running: the worker holding it
        // stopped heartbeating. Record the lost attempt, then start anew.
        const crashes = run.attempts.filter((a) => a.outcome === AttemptOutcome.ATTEMPT_OUTCOME_CRASHED).length + 1;
        const failure: Failure = { type: "WorkerCrashed", message: `worker ${run.workerId} stopped heartbeating during attempt ${run.attempt}`, stack: "", retryable: true };
        const attempts = withAttempt(run, run.attempt, { outcome: AttemptOutcome.ATTEMPT_OUTCOME_CRASHED, finishedAt: t, error: failure });
        if (crashes > options.maxCrashRetries) {
          settle = () => m.ack();
          return { write: { ...run, attempts, state: RunState.RUN_STATE_FAILED, lastEvent: EventType.EVENT_TYPE_FAILED, error: { ...failure, message: `${failure.message}; gave up after ${crashes} crashed attempts` }, finishedAt: t, updatedAt: t } };
        }
        return { write: { ...run, attempts, state: RunState.RUN_STATE_PENDING, lastEvent: EventType.EVENT_TYPE_CRASHED, error: failure, updatedAt: t } };
      }
      const n = run.attempt + 1;
      return {
        write: {
          ...run,
          state: RunState.RUN_STATE_RUNNING,
          attempt: n,
          options: withTaskDefaults(run.options, def),
          attempts: [...run.attempts, { number: n, workerId: options.workerId, startedAt: admittedAt ?? t, finishedAt: undefined, outcome: AttemptOutcome.ATTEMPT_OUTCOME_RUNNING, error: undefined }],
          lastEvent: EventType.EVENT_TYPE_STARTED,
          workerId: options.workerId,
          startedAt: run.startedAt ?? admittedAt ?? t,
          nextAttemptAt: undefined,
          updatedAt: t,
        },
      };
    },
    known,
  );
  if (!res) {
    // No record: it expired (retention) or was never written. Nothing to run.
    await giveBack();
    m.term();
    return undefined;
  }
  if (settle) {
    await giveBack();
    settle();
    return undefined;
  }
  if (res.stored.run.state === RunState.RUN_STATE_PENDING) {
    // We just recorded a crash; now claim it for a new attempt (the key
    // slot, if any, is ours already and is taken again idempotently).
    const again = await claim(m, deps, { ...res.stored.run, revision: 0 }, def);
    if (!again) await giveBack();
    return again;
  }
  return { stored: res.stored, keyHeld };
}

/** Executes the task function with timeout and cancellation; never throws. */
async function invoke(def: AnyTaskDefinition, run: TaskRun, deps: ExecDeps, runLog: RunLog): Promise<Outcome> {
  // The AbortController is made only if the task reads its signal (most
  // never do; one per run was 2 % of a busy worker's CPU). Until then an
  // abort only records its reason, and a later read sees it aborted.
  let ac: AbortController | undefined;
  let abortReason: Error | undefined;
  const signal = (): AbortSignal => {
    if (!ac) {
      ac = new AbortController();
      if (abortReason) ac.abort(abortReason);
    }
    return ac.signal;
  };
  let settled = false;
  return new Promise<Outcome>((resolve) => {
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unregister();
      resolve(o);
    };
    // Cancellation and timeouts abort the signal first; a task that ignores
    // it gets ABORT_GRACE_MS, then its attempt is recorded anyway and the
    // slot freed (the function's promise is abandoned).
    const abortThenSettle = (o: Outcome, reason: Error): void => {
      if (abortReason) return;
      abortReason = reason;
      ac?.abort(reason);
      setTimeout(() => finish(o), ABORT_GRACE_MS).unref();
    };
    /** The outcome of an attempt whose signal was aborted: a timeout or a cancellation. */
    const aborted = (): Outcome =>
      abortReason?.name === "TimeoutError" ? { kind: "timeout" } : { kind: "cancelled", reason: abortReason?.message ?? "" };
    const timeoutMs = run.options?.timeoutMs ?? 0;
    const timer = timeoutMs > 0 ? setTimeout(() => abortThenSettle({ kind: "timeout" }, Object.assign(new Error(`attempt exceeded its timeout of ${timeoutMs} ms`), { name: "TimeoutError" })), timeoutMs) : undefined;
    const unregister = deps.registerAbort(run.id, (reason) => abortThenSettle({ kind: "cancelled", reason }, Object.assign(new Error(`run cancelled${reason ? `: ${reason}` : ""}`), { name: "AbortError" })));
    const ctx: TaskContext = {
      runId: run.id,
      task: run.task,
      attempt: run.attempt,
      get signal() {
        return signal();
      },
      log: {
        debug: (msg) => runLog.line("debug", msg),
        info: (msg) => runLog.line("info", msg),
        warn: (msg) => runLog.line("warn", msg),
        error: (msg) => runLog.line("error", msg),
      },
      progress: (fraction, message) => runLog.progress(fraction, message),
    };
    let args: unknown[];
    try {
      args = decodeArgs(run.args);
    } catch (err) {
      finish({ kind: "error", err: Object.assign(new Error(`cannot decode args: ${err instanceof Error ? err.message : String(err)}`), { name: "BadArguments", retryable: false }) });
      return;
    }
    if (def.options.isolation === "thread") {
      runInThread(def, run, args, runLog, signal(), (o) => {
        // A thread that ended on its own after an abort: report the abort.
        finish(abortReason && o.kind !== "ok" ? aborted() : o);
      });
      return;
    }
    Promise.resolve()
      .then(() => runWithContext(ctx, () => (def.fn as (...a: unknown[]) => unknown)(...args)))
      .then(
        (value) => finish(abortReason ? aborted() : { kind: "ok", value }),
        (err: unknown) => finish(abortReason ? aborted() : { kind: "error", err }),
      );
  });
}

/**
 * Runs one attempt in a worker thread. The thread sees its own AbortSignal
 * (aborted by a message); if it does not end within ABORT_GRACE_MS of the
 * abort, it is terminated — the hard stop that inline mode cannot give.
 */
function runInThread(def: AnyTaskDefinition, run: TaskRun, args: unknown[], runLog: RunLog, signal: AbortSignal, done: (o: Outcome) => void): void {
  const entry = new URL(import.meta.url.endsWith(".ts") ? "./thread-boot.mjs" : "./thread-entry.js", import.meta.url);
  if (!def.moduleUrl) {
    done({ kind: "error", err: Object.assign(new Error(`task "${run.task}" has isolation "thread" but its module is unknown; define it with task() in a module file`), { name: "IsolationError", retryable: false }) });
    return;
  }
  const thread = new Thread(entry, { workerData: { moduleUrl: def.moduleUrl, taskName: run.task, args, runId: run.id, attempt: run.attempt }, execArgv: process.execArgv });
  let ended = false;
  const end = (o: Outcome): void => {
    if (ended) return;
    ended = true;
    clearTimeout(kill);
    void thread.terminate();
    done(o);
  };
  let kill: NodeJS.Timeout | undefined;
  signal.addEventListener(
    "abort",
    () => {
      thread.postMessage({ type: "abort", reason: signal.reason instanceof Error ? signal.reason.message : "aborted" });
      kill = setTimeout(() => end({ kind: "error", err: new Error("terminated") }), ABORT_GRACE_MS);
    },
    { once: true },
  );
  type FromThread =
    | { type: "ok"; value: unknown }
    | { type: "error"; error: { name: string; message: string; stack: string; retryable?: boolean; delayMs?: number } }
    | { type: "log"; level: string; message: string }
    | { type: "progress"; fraction: number; message: string };
  thread.on("message", (m: FromThread) => {
    if (m.type === "log") runLog.line(m.level, m.message);
    else if (m.type === "progress") runLog.progress(m.fraction, m.message);
    else if (m.type === "ok") end({ kind: "ok", value: m.value });
    else end({ kind: "error", err: Object.assign(new Error(m.error.message), m.error, { name: m.error.name, stack: m.error.stack }) });
  });
  thread.on("error", (err) => end({ kind: "error", err }));
  thread.on("exit", (code) => end({ kind: "error", err: new Error(`task thread exited with code ${code} before finishing`) }));
}

/**
 * Executes one delivered run end to end: claim, run, record the outcome
 * with compare-and-set, and only then settle the message — ack for a
 * terminal state, nak with the backoff for a retry. If this process dies
 * anywhere in between, the message is redelivered and the run resumes.
 */
export async function executeRun(m: JsMsg, def: AnyTaskDefinition, deps: ExecDeps): Promise<void> {
  const { log, options } = deps;
  const msgRun = decodeRunMessage(m.data);
  if (!msgRun) {
    log.error({ seq: m.seq, subject: m.subject }, "undecodable run message; terminating it");
    m.term();
    return;
  }
  const claim_ = await claim(m, deps, msgRun, def);
  if (!claim_) return;
  const claimed = claim_.stored;
  const run = claimed.run;
  const limitKey = run.options?.concurrencyKey ?? "";
  // Keep the key slot's lease alive while the run executes.
  const renew = claim_.keyHeld ? setInterval(() => void deps.keySlots.renew(run.task, limitKey, run.id).catch(() => undefined), options.heartbeatMs) : undefined;
  try {
    await runClaimed(m, def, deps, claimed);
  } finally {
    clearInterval(renew);
    if (claim_.keyHeld) await deps.keySlots.release(run.task, limitKey, run.id).catch((err: unknown) => log.warn({ err, runId: run.id }, "could not release a key slot; its lease lapses by itself"));
  }
}

async function runClaimed(m: JsMsg, def: AnyTaskDefinition, deps: ExecDeps, claimed: StoredRun): Promise<void> {
  const { store, log, options } = deps;
  const run = claimed.run;
  const n = run.attempt;
  const parent = m.headers ? extractHeaders(m.headers) : extractTraceParent(run.traceParent);
  await tracer.startActiveSpan(
    `process ${m.subject}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "nats",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": m.subject,
        "messaging.message.id": run.id,
        "messaging.consumer.group.name": m.info.consumer,
        "taskwire.task": run.task,
        "taskwire.run_id": run.id,
        "taskwire.attempt": n,
      },
    },
    parent,
    async (span) => {
      const runLog = new RunLog(store, run.id, n, log);
      const outcome = await invoke(def, run, deps, runLog);
      await runLog.flush();
      // Encode the result once; the cache, the Object Store and the record
      // all use these bytes.
      let encoded: Payload | undefined;
      let encodeError: string | undefined;
      if (outcome.kind === "ok") {
        try {
          encoded = encodeJson(outcome.value);
        } catch (err) {
          encodeError = err instanceof Error ? err.message : String(err);
        }
      }
      const fits = encoded !== undefined && encoded.data.length <= options.maxResultBytes;
      // Fill the cache before recording COMPLETED, so a submit that sees the
      // run completed also finds its result cached.
      if (encoded && fits) await fillCache(deps, run, encoded, options.inlineResultBytes);
      // A large result goes to the Object Store first; the record then
      // carries its name. Written before the record, so a COMPLETED record
      // never points at a missing object.
      let resultRef = "";
      if (encoded && fits && encoded.data.length > options.inlineResultBytes) {
        await deps.results.putBlob({ name: run.id }, encoded.data);
        resultRef = run.id;
      }
      const t = now();
      type Decided = "completed" | "failed" | "retry" | "cancelled" | "stale";
      let decided = "stale" as Decided;
      let retryDelay = 0;
      let resultValue: unknown;
      let failure: Failure | undefined;
      const res = await store.transition(run.id, (cur) => {
        if (isTerminal(cur.state) || cur.state !== RunState.RUN_STATE_RUNNING || cur.attempt !== n) {
          // Another attempt took over (we stalled past the heartbeat
          // timeout) or the run already ended: the first terminal state wins.
          decided = "stale";
          return { skip: true };
        }
        if (outcome.kind === "ok") {
          if (encodeError !== undefined) {
            failure = { type: "ResultNotSerializable", message: `result is not JSON-serialisable: ${encodeError}`, stack: "", retryable: false };
          } else if (encoded && !fits) {
            failure = { type: "ResultTooLarge", message: `result is ${encoded.data.length} bytes, over the worker's limit of ${options.maxResultBytes} (TASKWIRE_MAX_RESULT_BYTES); store large results elsewhere and return a reference`, stack: "", retryable: false };
          } else if (encoded) {
            decided = "completed";
            resultValue = outcome.value;
            return {
              write: { ...cur, state: RunState.RUN_STATE_COMPLETED, result: resultRef ? { contentType: encoded.contentType, data: Buffer.alloc(0) } : encoded, resultRef, error: undefined, lastEvent: EventType.EVENT_TYPE_COMPLETED, finishedAt: t, updatedAt: t, attempts: withAttempt(cur, n, { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, finishedAt: t }) },
            };
          }
        }
        if (outcome.kind === "cancelled") {
          decided = "cancelled";
          const f: Failure = { type: "Cancelled", message: outcome.reason || "cancelled while running", stack: "", retryable: false };
          return { write: { ...cur, state: RunState.RUN_STATE_CANCELLED, error: f, lastEvent: EventType.EVENT_TYPE_CANCELLED, finishedAt: t, updatedAt: t, attempts: withAttempt(cur, n, { outcome: AttemptOutcome.ATTEMPT_OUTCOME_CANCELLED, finishedAt: t, error: f }) } };
        }
        let retryAfterMs: number | undefined;
        let attemptOutcome = AttemptOutcome.ATTEMPT_OUTCOME_FAILED;
        if (outcome.kind === "timeout") {
          failure = { type: "TimeoutError", message: `attempt ${n} exceeded its timeout of ${cur.options?.timeoutMs ?? 0} ms`, stack: "", retryable: true };
          attemptOutcome = AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT;
        } else if (outcome.kind === "error") {
          ({ failure, retryAfterMs } = failureOf(outcome.err));
        }
        const f = failure ?? { type: "Error", message: "unknown failure", stack: "", retryable: false };
        const after = { ...cur, attempts: withAttempt(cur, n, { outcome: attemptOutcome, finishedAt: t, error: f }), error: f, updatedAt: t };
        const d = decideRetry(after, f, retryAfterMs);
        if (d.retry) {
          decided = "retry";
          retryDelay = d.delayMs;
          return { write: { ...after, state: RunState.RUN_STATE_AWAITING_RETRY, lastEvent: EventType.EVENT_TYPE_RETRY_SCHEDULED, nextAttemptAt: new Date(t.getTime() + d.delayMs) } };
        }
        decided = "failed";
        return { write: { ...after, state: RunState.RUN_STATE_FAILED, lastEvent: outcome.kind === "timeout" ? EventType.EVENT_TYPE_TIMED_OUT : EventType.EVENT_TYPE_FAILED, finishedAt: t } };
      });
      span.setAttribute("taskwire.outcome", decided);
      if (decided === "failed" || decided === "retry") span.setStatus({ code: SpanStatusCode.ERROR, message: failure?.message });
      span.end();
      if (!res) {
        m.term();
        return;
      }
      // Settle only now that the outcome is durable.
      if (decided === "retry") m.nak(retryDelay);
      else m.ack();
      if (decided === "completed" && options.onCompletion) await hook(log, () => options.onCompletion?.({ runId: run.id, task: run.task, attempt: n, result: resultValue }));
      if (decided === "failed" && options.onFailure) await hook(log, () => options.onFailure?.({ runId: run.id, task: run.task, attempt: n, error: failure && { type: failure.type, message: failure.message } }));
    },
  );
}

/** Stores a completed run's encoded result under its cache key; a failure here only costs a future cache miss. */
async function fillCache(deps: ExecDeps, run: TaskRun, result: Payload, maxBytes: number): Promise<void> {
  const o = run.options;
  if (!o || o.cacheTtlMs <= 0 || !o.cacheKey || result.data.length > maxBytes) return;
  const now = new Date();
  try {
    await deps.cache.put(cacheEntryKey(run.task, o.cacheKey), CacheEntry.encode({ runId: run.id, result, completedAt: now, expiresAt: new Date(now.getTime() + o.cacheTtlMs) }).finish());
  } catch (err) {
    deps.log.warn({ err, runId: run.id }, "could not store the result in the cache");
  }
}

async function hook(log: Logger, fn: () => void | Promise<void> | undefined): Promise<void> {
  try {
    await fn();
  } catch (err) {
    log.warn({ err }, "worker hook threw; the run's outcome is unaffected");
  }
}
