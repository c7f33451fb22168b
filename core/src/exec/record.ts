import type { JsMsg } from "@nats-io/jetstream";
import { type AttemptResult, CacheEntry, failure, outcome, type Payload, type Step, type TaskRun } from "@taskwire/protocol";
import { cacheEntryKey } from "../layout.js";
import { settle } from "../settle.js";
import type { StoredRun, Transitioned } from "../store.js";
import type { ExecDeps } from "./deps.js";
import type { DeferredStart } from "./start.js";

/** The recorded end of an attempt: the lifecycle step that was carried out, and whether its write was made. */
export interface RecordedAttempt {
  step: Step;
  /** Whether this attempt's outcome was written (false: the run had finished, or another attempt holds it). */
  written: boolean;
}

/**
 * The attempt result of a completed attempt's encoded value: the cache is
 * filled, a result above the inline limit goes to the Object Store (written
 * before the record, so a COMPLETED record never points at a missing
 * object), and a result above the size limit fails the attempt instead.
 */
export function completedResult(run: TaskRun, encoded: Payload, deps: ExecDeps): AttemptResult | Promise<AttemptResult> {
  const { options } = deps;
  if (encoded.data.length > options.maxResultBytes) {
    return {
      kind: "failed",
      failure: failure("ResultTooLarge", `result is ${encoded.data.length} bytes, over the worker's limit of ${options.maxResultBytes} (TASKWIRE_MAX_RESULT_BYTES); store large results elsewhere and return a reference`),
    };
  }
  const inline = encoded.data.length <= options.inlineResultBytes;
  // Most runs: an inline result and no cache — nothing to store first.
  if (inline && !cached(run, encoded, options.inlineResultBytes)) return { kind: "completed", result: encoded, resultRef: "" };
  return storedResult(run, encoded, deps, inline);
}

/** `completedResult` of a result that is cached or goes to the Object Store (both written before the record). */
async function storedResult(run: TaskRun, encoded: Payload, deps: ExecDeps, inline: boolean): Promise<AttemptResult> {
  // Fill the cache before recording COMPLETED, so a submit that sees the
  // run completed also finds its result cached.
  await fillCache(deps, run, encoded, deps.options.inlineResultBytes);
  if (inline) return { kind: "completed", result: encoded, resultRef: "" };
  await deps.results.putBlob({ name: run.id }, encoded.data);
  return { kind: "completed", result: { contentType: encoded.contentType, data: Buffer.alloc(0) }, resultRef: run.id };
}

/**
 * How long an outcome write is retried while NATS fails (a node died; its
 * streams elect new leaders — seconds), in ms. The message stays
 * heartbeated meanwhile; past this the caller hands the message back so the
 * run comes back rather than waiting on a redelivery.
 */
export const RECORD_RETRY_MS = 30_000;
/** First and largest pause between two tries of an outcome write, in ms. */
const RECORD_BACKOFF_MS = [100, 2_000] as const;

/**
 * Records how attempt `run.attempt` ended with the lifecycle's `outcome`
 * (compare-and-set), and only then settles the message `m` as the step
 * decided: ack for a terminal state, nak with the backoff for a retry,
 * nothing when another attempt holds the run (its delivery owns the
 * message now). If the process dies in between, the message is redelivered;
 * the claim then sees the terminal record and acks. Without a message (a
 * remote worker's run adopted after a reconnect) only the record is
 * written; the message, when it comes back, is settled by the claim.
 *
 * `result` is asked once (it may store the result). A failing write is tried
 * again for up to RECORD_RETRY_MS: the task ran, and a redelivery would run
 * it again. Each try reads at least the revision this attempt's claim wrote
 * (`run.revision`): a lagging replica's older copy would make `outcome`
 * decide "not this attempt's run any more". `known`, the newest copy the
 * attempt wrote (its claim's RUNNING record, or its last log line's), is
 * written against without a read; if the record moved on since (a cancel
 * request), the compare-and-set fails and the leader's copy is decided on.
 */
export async function recordAttempt(m: JsMsg | undefined, run: TaskRun, result: () => AttemptResult | Promise<AttemptResult>, deps: ExecDeps, start?: DeferredStart, known?: StoredRun): Promise<RecordedAttempt> {
  const started = Date.now();
  let pause: number = RECORD_BACKOFF_MS[0];
  let res: AttemptResult | undefined;
  let out: Transitioned | undefined;
  for (let tries = 1; ; tries++) {
    try {
      if (!res) {
        const asked = result();
        res = asked instanceof Promise ? await asked : asked;
      }
      const r = res;
      // A start not written yet is folded into this write (`DeferredStart`).
      const { decide, minRevision, known: startKnown } = start ? await start.decider(run.attempt, r) : { decide: (cur: TaskRun) => outcome(cur, { attempt: run.attempt, result: r }, new Date()), minRevision: run.revision, known: undefined };
      // A log line's write is newer than the start's.
      out = await deps.store.transition(run.id, decide, known ?? startKnown, { minRevision });
      break;
    } catch (err) {
      if (Date.now() - started + pause > RECORD_RETRY_MS) throw err;
      deps.log.warn({ err, runId: run.id, attempt: run.attempt, tries }, "could not record the attempt's outcome; trying again");
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, RECORD_BACKOFF_MS[1]);
    }
  }
  if (!out) {
    m?.term(); // the record expired meanwhile (retention): nothing left to record
    return { step: { effects: [] }, written: false };
  }
  if (m) settle(m, out.step.effects, deps.acks);
  return { step: out.step, written: out.written };
}

/** Whether a completed run's result goes into the cache (its run asks for caching and it is small enough). */
function cached(run: TaskRun, result: Payload, maxBytes: number): boolean {
  const o = run.options;
  return o !== undefined && o.cacheTtlMs > 0 && o.cacheKey !== "" && result.data.length <= maxBytes;
}

/** Stores a completed run's encoded result under its cache key; a failure here only costs a future cache miss. */
async function fillCache(deps: ExecDeps, run: TaskRun, result: Payload, maxBytes: number): Promise<void> {
  const o = run.options;
  if (!o || !cached(run, result, maxBytes)) return;
  const now = new Date();
  try {
    await deps.cache.put(cacheEntryKey(run.task, o.cacheKey, run.namespace), CacheEntry.encode({ runId: run.id, result, completedAt: now, expiresAt: new Date(now.getTime() + o.cacheTtlMs) }).finish());
  } catch (err) {
    deps.log.warn({ err, runId: run.id }, "could not store the result in the cache");
  }
}
