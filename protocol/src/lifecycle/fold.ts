import { RunState, type TaskRun } from "../gen/index.js";
import { claim, type ClaimInput } from "./claim.js";
import { type AttemptResult, outcome } from "./outcome.js";
import { noWrite, type Step } from "./step.js";

// A short attempt's start, folded into its outcome. A worker that claims a
// run may execute it before writing RUNNING and write RUNNING only if the
// attempt outlives a short delay; an attempt that ends sooner records its
// start and its end in one revision (`folds_start`), one write instead of
// two. Both decisions are taken against the record as it is when written,
// so a cancel, an expiry or another writer that came first still wins.

/** The start a worker decided at claim time and has not written yet. */
export interface UnrecordedStart {
  /** The claim's input (the same worker, task defaults, dispatch). */
  claim: ClaimInput;
  /** When the attempt started executing. */
  startedAt: Date;
}

/** Whether no attempt holds `run` now: a start may still be claimed on it (claim decides the rest). */
function unstarted(run: TaskRun): boolean {
  return run.state !== RunState.RUN_STATE_RUNNING;
}

/**
 * The deferred RUNNING write of an attempt that outlived the start-record
 * delay: `claim` again on the current record, the start dated when it began.
 * If another attempt holds the run meanwhile, nothing is written (and no
 * crash is recorded against it); a cancel or a finish that came first makes
 * `claim` decide so, without an `execute` effect — the caller aborts its
 * attempt then.
 */
export function recordStart(run: TaskRun, start: UnrecordedStart, now: Date): Step {
  return unstarted(run) ? claimAt(run, start, now) : noWrite();
}

/** `claim` as decided when the attempt started (its start dated then), written now. */
function claimAt(run: TaskRun, start: UnrecordedStart, now: Date): Step {
  return claim(run, { ...start.claim, admittedAt: start.startedAt }, now);
}

/**
 * The outcome of an attempt whose start was never written: the start
 * `claim` would have written at `startedAt`, then `outcome` on top of it,
 * as one revision marked `foldsStart`. If the current record is no longer
 * claimable (cancelled, finished, another dispatch) `claim`'s own decision
 * stands (CANCELLED, or ack and drop), and the result is not recorded; if
 * another attempt holds it, `outcome` decides as for a stalled attempt.
 */
export function foldedOutcome(run: TaskRun, input: { start: UnrecordedStart; attempt: number; result: AttemptResult; random?: () => number }, now: Date): Step {
  if (!unstarted(run)) return outcome(run, { attempt: input.attempt, result: input.result, random: input.random }, now);
  const started = claimAt(run, input.start, now);
  const running = started.write;
  if (!running || !started.effects.some((e) => e.type === "execute")) return started;
  const out = outcome(running, { attempt: running.attempt, result: input.result, random: input.random }, now);
  return out.write ? { ...out, write: { ...out.write, foldsStart: true } } : out;
}
