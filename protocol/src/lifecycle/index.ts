// The run lifecycle as pure functions: (record, input, now) → Step.
// Broker, scheduler and worker carry out what these decide; no transition
// is written anywhere else.
export { type Effect, type Refusal, type Step, isTerminal } from "./step.js";
export { newRun, submitFailed, SCHEDULE_THRESHOLD_MS, type NewRunInput } from "./submit.js";
export { claim, mayStart, withDefaults, type ClaimInput } from "./claim.js";
export { outcome, type AttemptResult, type OutcomeInput } from "./outcome.js";
export { cancel } from "./cancel.js";
export { foldedOutcome, recordStart, type UnrecordedStart } from "./fold.js";
export { retry } from "./resubmit.js";
export { release, DEPENDENCY_POLL_MS, type ReleaseInput } from "./release.js";
export { expire, MAX_HOLD_MS } from "./expire.js";
export { appendLog, reportProgress, MAX_LOG_LINES } from "./runlog.js";
