import type { JsMsg } from "@nats-io/jetstream";
import { claim, type ClaimInput, mayStart, RunState, runMessageRecord, type Step, type TaskRun, withoutRevision } from "@taskwire/protocol";
import { deliveryCount } from "../jsmsg.js";
import { settle } from "../settle.js";
import type { StoredRun } from "../store.js";
import type { ExecDeps, TaskSpec } from "./deps.js";
import { DeferredStart } from "./start.js";

/** A run now held as RUNNING, and the key slot it took for it (if any). */
export interface Claimed {
  stored: StoredRun;
  /** The per-key concurrency key whose slot this run holds; "" when none. */
  slotKey: string;
  /**
   * Set when RUNNING is not written yet (`startRecordDelayMs`): `stored`
   * is then the RUNNING record as decided, at the claimed record's revision,
   * and the outcome must be recorded through `start.decider`.
   */
  start?: DeferredStart;
}

/** Sentinel decision: the record turned RUNNING under another holder, who is asked before anything is written. */
const askHolder: Step = { effects: [{ type: "claimAgain" }] };

/** A message younger than this (JetStream's dedupe window) may create its record when the broker's write has not landed yet, in ms. */
const RECORD_CREATE_WINDOW_MS = 120_000;

/**
 * The record a delivered message is about. A message published by Submit
 * (after the record's create) or released by the scheduler carries the
 * record's revision: on its first delivery the CAS is tried against it and
 * a read is saved. A message without one (published by a broker that wrote
 * the record and published in parallel) can arrive before the record; it
 * carries the record, so the worker creates it from there (the broker's
 * identical create then finds it).
 */
async function currentRecord(m: JsMsg, deps: ExecDeps, msgRun: TaskRun): Promise<StoredRun | undefined> {
  if (deliveryCount(m) === 1 && msgRun.revision > 0) return { run: msgRun, revision: msgRun.revision };
  // Most often (a run handed back by a rate limit or a key slot) the record
  // is still the one the message carries, byte for byte but for the
  // revision appended to the message's copy: no second decode then.
  const carried = runMessageRecord(m.data);
  const data = carried && msgRun.revision > 0 ? withoutRevision(carried, msgRun.revision) : carried;
  const known = await deps.store.get(msgRun.id, data && { like: { data, run: msgRun } });
  if (known) return known;
  // Only a young message may create its record: the broker writes the record
  // and publishes in parallel, so the message can arrive first. An old one
  // whose record is gone outlived it (retention) — creating the record again
  // would bring a finished or cancelled run back to life.
  if (Date.now() - (msgRun.createdAt?.getTime() ?? 0) > RECORD_CREATE_WINDOW_MS) return undefined;
  const revision = await deps.store.create({ ...msgRun, revision: 0 });
  return revision !== undefined ? { run: { ...msgRun, revision }, revision } : deps.store.get(msgRun.id);
}

/**
 * Claims one delivered run for an attempt. Rate limits and per-key slots
 * are checked first (a run over them goes back to the queue); then the
 * lifecycle's `claim` decides, with compare-and-set: start (RUNNING),
 * settle the message (finished, cancelled, expired, early), or record a
 * crashed attempt and claim again. Returns the claimed run, or undefined
 * when the message was settled.
 */
export async function claimRun(m: JsMsg, spec: TaskSpec, deps: ExecDeps, msgRun: TaskRun): Promise<Claimed | undefined> {
  const { store, options } = deps;
  // A first delivery carrying its record's revision is tried against it without a read (see currentRecord).
  let known = deliveryCount(m) === 1 && msgRun.revision > 0 ? { run: msgRun, revision: msgRun.revision } : await currentRecord(m, deps, msgRun);
  if (!known) {
    // No record: it expired (retention) or was never written. Nothing to run.
    m.term();
    return undefined;
  }
  let admittedAt: Date | undefined;
  const rl = spec.rateLimit;
  /** Takes a place in the task's rate limit; false (and the message back to the queue) when over it. */
  const admit = async (run: TaskRun): Promise<boolean> => {
    if (!rl || admittedAt || !mayStart(run) || run.state === RunState.RUN_STATE_RUNNING) return true;
    const d = await deps.rateLimiter.acquire(run.task, run.options?.concurrencyKey ?? "", rl);
    if ("waitMs" in d) {
      m.nak(d.waitMs);
      return false;
    }
    // The start is the moment the limiter admitted it.
    admittedAt = new Date(d.grantedAt);
    return true;
  };
  if (rl && !(await admit(known.run))) return undefined;
  // Per-key concurrency: at most N runs of the task at once per key.
  const keyLimit = spec.keyConcurrencyLimit ?? 0;
  const limitKey = known.run.options?.concurrencyKey ?? "";
  const slotKey = keyLimit > 0 && limitKey && mayStart(known.run) ? limitKey : "";
  if (slotKey && !(await deps.keySlots.acquire(known.run.task, slotKey, known.run.id, keyLimit))) {
    m.nak(Math.min(250, options.heartbeatMs));
    return undefined;
  }
  const giveBack = async (): Promise<void> => {
    if (slotKey) await deps.keySlots.release(msgRun.task, slotKey, msgRun.id);
  };
  const input = () => ({ workerId: options.workerId, taskDefaults: spec.defaults, admittedAt, maxCrashRetries: options.maxCrashRetries, dispatch: msgRun.dispatch });
  const holders = deps.holders;
  const deferred = options.startRecordDelayMs !== undefined ? deferStart(m, deps, known, input()) : undefined;
  if (deferred) {
    holders?.hold(msgRun.id, m);
    return { ...deferred, slotKey };
  }
  /** The RUNNING revision whose holder was found gone; only that one may be recorded as crashed. */
  let holderGone = -1;
  for (;;) {
    if (holders && known.run.state === RunState.RUN_STATE_RUNNING && known.revision !== holderGone) {
      if (await holders.isHeld(known.run.workerId, msgRun.id)) {
        // Its holder is alive and executing it: leave the run to it. The
        // message comes back after this delay (the holder's heartbeats keep
        // postponing it); by then it is finished, or its holder is gone.
        await giveBack();
        m.nak(2 * options.heartbeatMs);
        return undefined;
      }
      holderGone = known.revision;
    }
    const gone = holderGone;
    const out = await store.transition(msgRun.id, (run) => (holders && run.state === RunState.RUN_STATE_RUNNING && run.revision !== gone ? askHolder : claim(run, input(), new Date())), known);
    if (!out) {
      await giveBack();
      m.term();
      return undefined;
    }
    if (out.step === askHolder) {
      // Another worker claimed it meanwhile: ask that one first.
      known = out.stored;
      continue;
    }
    const effects = out.step.effects;
    if (effects.some((e) => e.type === "execute")) {
      holders?.hold(msgRun.id, m);
      return { stored: out.stored, slotKey };
    }
    if (effects.some((e) => e.type === "claimAgain")) {
      // We just recorded a crashed attempt; now claim it for a new one
      // (the key slot, if any, is ours already; the new start counts
      // against the rate limit).
      known = out.stored;
      if (await admit(known.run)) continue;
      await giveBack();
      return undefined;
    }
    await giveBack();
    settle(m, out.step.effects);
    return undefined;
  }
}

/**
 * A claim whose RUNNING write is not waited for (`startRecordDelayMs`): only on a
 * message's first delivery (a redelivered one may come from a crashed
 * attempt, which must be recorded, so a run that kills its worker still
 * uses up the crash budget) and for a run without a schedule-to-start
 * deadline (whose expiry must see the start). Undefined: claim as usual.
 */
function deferStart(m: JsMsg, deps: ExecDeps, known: StoredRun, input: ClaimInput): Omit<Claimed, "slotKey"> | undefined {
  const delayMs = deps.options.startRecordDelayMs;
  if (delayMs === undefined || delayMs < 0 || deliveryCount(m) !== 1 || known.run.state === RunState.RUN_STATE_RUNNING) return undefined;
  const startedAt = input.admittedAt ?? new Date();
  const step = claim(known.run, input, startedAt);
  const running = step.write;
  if (!running || !step.effects.some((e) => e.type === "execute") || (running.options?.scheduleToStartTimeoutMs ?? 0) > 0) return undefined;
  const start = new DeferredStart(deps.store, known, { claim: input, startedAt }, delayMs, deps.log);
  return { stored: { run: { ...running, revision: known.revision }, revision: known.revision }, start };
}
