import { type AttemptResult, foldedOutcome, recordStart, type Step, type TaskRun, type UnrecordedStart } from "@taskwire/protocol";
import type { RunStore, StoredRun } from "../store.js";
import type { ExecLog } from "./deps.js";

/**
 * The RUNNING write of a claimed attempt, not waited for: a worker starts
 * the task at once, one NATS round trip earlier than after a confirmed
 * RUNNING write.
 * - `delayMs` 0 (the default): the RUNNING write is sent as the task
 *   starts (pipelined); the outcome waits for it, so every state is its
 *   own revision, as before.
 * - `delayMs` > 0: RUNNING is written only if the attempt is still going
 *   after `delayMs`. An attempt that ends sooner records its start in its
 *   outcome's revision instead (`foldedOutcome`, `folds_start`): one record
 *   write instead of two.
 * Log lines and progress write RUNNING first (`recorded()`). Either way the
 * decision is taken against the record as it is when written, so a cancel
 * that came first wins and the attempt is told to stop.
 *
 * What this changes for an observer: the record says PENDING until the
 * RUNNING write lands (at most `delayMs` after the start, plus a round
 * trip), and a worker that dies before that leaves no CRASHED attempt
 * behind (its message is redelivered as always; a redelivered message
 * waits for its RUNNING write, so a run that kills its worker still
 * exhausts the crash budget).
 */
export class DeferredStart {
  /** waiting: RUNNING not sent yet; recording: sent (`#written`); folded: called off, the outcome records the start. */
  #state: "waiting" | "recording" | "folded" = "waiting";
  #timer: NodeJS.Timeout | undefined;
  #written: Promise<StoredRun | undefined> | undefined;
  #onLost: ((reason: string) => void) | undefined;

  constructor(
    readonly store: RunStore,
    /** The record the claim was decided on (PENDING or AWAITING_RETRY), with its revision. */
    readonly base: StoredRun,
    readonly start: UnrecordedStart,
    delayMs: number,
    readonly log: ExecLog,
  ) {
    // 0: the RUNNING write leaves with the start, without waiting for it (pipelined).
    if (delayMs <= 0) void this.recorded();
    else this.#timer = setTimeout(() => void this.recorded(), delayMs);
  }

  /** Called when the deferred write finds the run cancelled or finished: the attempt should stop. */
  onLost(cb: (reason: string) => void): void {
    this.#onLost = cb;
  }

  /**
   * Writes RUNNING now if it is not written yet, and resolves with the
   * stored record; undefined when the run was cancelled, finished or taken
   * meanwhile (the attempt was told to stop) or the start was folded.
   */
  recorded(): Promise<StoredRun | undefined> {
    if (this.#state === "folded") return Promise.resolve(undefined);
    if (!this.#written) {
      clearTimeout(this.#timer);
      this.#state = "recording";
      this.#written = this.#write();
    }
    return this.#written;
  }

  async #write(): Promise<StoredRun | undefined> {
    const id = this.base.run.id;
    try {
      const out = await this.store.transition(id, (cur) => recordStart(cur, this.start, new Date()), this.base);
      if (out?.written && out.step.effects.some((e) => e.type === "execute")) return out.stored;
      const state = out?.stored.run.state;
      this.#onLost?.(out ? `the run became ${String(state)} before its start was recorded` : "the run's record is gone");
      return undefined;
    } catch (err) {
      // NATS failing: the outcome write (retried) decides on the record as it is then.
      this.log.warn({ err, runId: id }, "could not record a run's start; its outcome will record it");
      return undefined;
    }
  }

  /**
   * The lifecycle decision for this attempt's outcome, the revision the
   * caller must read at least, and the newest copy of the record known here. When RUNNING was never written, the deferred
   * write is called off and the start is folded into the outcome's
   * revision; otherwise the RUNNING write in flight is waited for. Either
   * way `foldedOutcome` decides: on a RUNNING record it is `outcome`, and on
   * a record whose RUNNING write failed or never happened it folds the start.
   */
  async decider(attempt: number, result: AttemptResult): Promise<{ decide: (cur: TaskRun) => Step; minRevision: number; known: StoredRun }> {
    let stored: StoredRun | undefined;
    if (this.#state === "waiting") {
      clearTimeout(this.#timer);
      this.#state = "folded";
    } else {
      stored = await this.recorded();
    }
    const start = this.start;
    const n = stored?.run.attempt ?? attempt;
    // The newest copy this attempt knows: its RUNNING write's, else the claimed record (written against without a read).
    const known = stored ?? this.base;
    return { decide: (cur) => foldedOutcome(cur, { start, attempt: n, result }, new Date()), minRevision: known.revision, known };
  }

  /** Stops the timer (the attempt is over without an outcome to record). */
  dispose(): void {
    clearTimeout(this.#timer);
    if (this.#state === "waiting") this.#state = "folded";
  }
}
