import type { JsMsg } from "@nats-io/jetstream";
import { encodeJson } from "@taskwire/client";
import { type AttemptResult, CacheEntry, failure, failureOf, outcome, type Payload, type Step, type TaskRun } from "@taskwire/protocol";
import { cacheEntryKey, settle, type Transitioned } from "@taskwire/core";
import type { Invoked } from "./attempt.js";
import type { ExecDeps } from "./deps.js";

/** The recorded end of an attempt: the lifecycle step that was written (or refused) and the value a completed attempt returned. */
export interface Recorded {
  step: Step;
  /** The task's return value, when the attempt completed. */
  value?: unknown;
}

/**
 * Turns what the task function did into the attempt's result: a returned
 * value is encoded once (the cache, the Object Store and the record all use
 * these bytes) and stored; a value that cannot be kept fails the attempt.
 */
async function resultOf(invoked: Invoked, run: TaskRun, deps: ExecDeps): Promise<AttemptResult> {
  const { options } = deps;
  switch (invoked.kind) {
    case "timeout":
      return { kind: "timedOut", timeoutMs: run.options?.timeoutMs ?? 0 };
    case "cancelled":
      return { kind: "cancelled", reason: invoked.reason };
    case "error":
      return { kind: "failed", ...failureOf(invoked.err) };
    case "ok":
      break;
  }
  let encoded: Payload;
  try {
    encoded = encodeJson(invoked.value);
  } catch (err) {
    return { kind: "failed", failure: failure("ResultNotSerializable", `result is not JSON-serialisable: ${err instanceof Error ? err.message : String(err)}`) };
  }
  if (encoded.data.length > options.maxResultBytes) {
    return {
      kind: "failed",
      failure: failure("ResultTooLarge", `result is ${encoded.data.length} bytes, over the worker's limit of ${options.maxResultBytes} (TASKWIRE_MAX_RESULT_BYTES); store large results elsewhere and return a reference`),
    };
  }
  // Fill the cache before recording COMPLETED, so a submit that sees the
  // run completed also finds its result cached.
  await fillCache(deps, run, encoded, options.inlineResultBytes);
  if (encoded.data.length <= options.inlineResultBytes) return { kind: "completed", result: encoded, resultRef: "" };
  // A large result goes to the Object Store first; the record then names
  // it. Written before the record, so a COMPLETED record never points at a
  // missing object.
  await deps.results.putBlob({ name: run.id }, encoded.data);
  return { kind: "completed", result: { contentType: encoded.contentType, data: Buffer.alloc(0) }, resultRef: run.id };
}

/**
 * How long a worker keeps trying to record an attempt's outcome while NATS
 * fails (a node died; its streams elect new leaders — seconds), in ms. The
 * message stays heartbeated meanwhile; past this the worker gives the
 * message back (see worker.ts) so the run comes back rather than waiting
 * on a redelivery.
 */
export const RECORD_RETRY_MS = 30_000;
/** First and largest pause between two tries of an outcome write, in ms. */
const RECORD_BACKOFF_MS = [100, 2_000] as const;

/**
 * Records how the attempt ended with the lifecycle's `outcome` (CAS), and
 * only then settles the message: ack for a terminal state, nak with the
 * backoff for a retry. If this process dies in between, the message is
 * redelivered; the claim then sees the terminal record and acks.
 *
 * A failing write is tried again for up to RECORD_RETRY_MS: the task ran,
 * and a redelivery would run it again. The read behind each try must show
 * at least the revision this attempt's claim wrote (`run.revision`): a
 * lagging replica's older copy would make `outcome` decide "not this
 * attempt's run any more".
 *
 * The message is acked only when the run is finished. When the record
 * shows another attempt holding the run (ours was taken over after our
 * heartbeats did not get through), the message is left alone: the server
 * redelivered it to that attempt's worker, and an ack of ours — JetStream
 * acks by stream sequence, whichever delivery it came from — would settle
 * it under that worker for good.
 */
export async function recordOutcome(m: JsMsg, run: TaskRun, invoked: Invoked, deps: ExecDeps): Promise<Recorded> {
  const started = Date.now();
  let pause: number = RECORD_BACKOFF_MS[0];
  let result: AttemptResult | undefined;
  let out: Transitioned | undefined;
  for (let tries = 1; ; tries++) {
    try {
      result ??= await resultOf(invoked, run, deps);
      const r = result;
      out = await deps.store.transition(run.id, (cur) => outcome(cur, { attempt: run.attempt, result: r }, new Date()), undefined, { minRevision: run.revision });
      break;
    } catch (err) {
      if (Date.now() - started + pause > RECORD_RETRY_MS) throw err;
      deps.log.warn({ err, runId: run.id, attempt: run.attempt, tries }, "could not record the attempt's outcome; trying again");
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, RECORD_BACKOFF_MS[1]);
    }
  }
  if (!out) {
    m.term(); // the record expired meanwhile (retention): nothing left to record
    return { step: { effects: [] } };
  }
  settle(m, out.step.effects);
  return { step: out.step, value: invoked.kind === "ok" && out.written ? invoked.value : undefined };
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
