import { type Automation, type AutomationTrigger, AttemptOutcome, EventType, RunState, type TaskRun, TriggerEvent } from "@taskwire/protocol";
import { AUTOMATION_QUEUE, DEFAULT_QUEUE, namespaceOf } from "@taskwire/core";

/** The label every action run (and every run an automation submits) carries: the automation's name. Its events never fire that automation again. */
export const AUTOMATION_LABEL = "taskwire.automation";
/** The label of the run whose event fired the action run. */
export const TRIGGER_RUN_LABEL = "taskwire.trigger_run";

/** Largest args or result data kept in a firing's copy of the run, in bytes; larger ones are left out (the run's id reads them back). */
const MAX_DATA_BYTES = 4_096;
/** Longest error stack kept in a firing's copy of the run, in characters. */
const MAX_STACK_CHARS = 2_048;

/**
 * What an automation's actions receive when it fires: the JSON body of a
 * webhook, the argument of a submitted run, the input of the built-in
 * action tasks. Documented in docs/automations.md.
 */
export interface Firing {
  /** The automation's name. */
  automation: string;
  namespace: string;
  /** The firing's id; action runs have the idempotency keys `<id>:<action index>`. */
  id: string;
  /** When the event happened (or the condition was seen), ISO 8601. */
  time: string;
  trigger: "event" | "threshold" | "queue_age" | "running";
  /** One line for people: what happened. */
  summary: string;
  /** The run event (event and threshold triggers; running: the attempt's start). */
  event?: {
    /** The trigger events it counts as, e.g. ["FAILED", "DEAD_LETTERED"]. */
    matched: string[];
    /** The run's EventType, e.g. "EVENT_TYPE_FAILED". */
    type: string;
    /** Its cursor (StreamEvents' after_cursor resumes after it). */
    cursor: string;
    time: string;
  };
  /** The run, as GET /v1/runs/{id} answers it (proto3 JSON), without its logs; args and result over 4 KiB and long stacks left out. */
  run?: Record<string, unknown> & { id: string; task: string };
  /** Threshold: matching events counted within the window. */
  count?: number;
  windowMs?: number;
  /** Queue condition: the (queue, task) whose oldest waiting run is the oldest. */
  queue?: { queue: string; task: string; depth: number; oldestWaitingSeconds: number };
  /** Running condition: how long the attempt has run, in ms. */
  runningMs?: number;
}

/** The short names of trigger events ("DEAD_LETTERED"). */
export function triggerEventName(e: TriggerEvent): string {
  return (TriggerEvent[e] ?? String(e)).replace(/^TRIGGER_EVENT_/, "");
}

/** Which trigger events a revision of a run record is (see TriggerEvent in proto/taskwire/v1/automation.proto). */
export function triggerEventsOf(run: TaskRun): TriggerEvent[] {
  // A revision that also records its attempt's start (folds_start) is a STARTED event too, first.
  const own = ownTriggerEventsOf(run);
  return run.foldsStart ? [TriggerEvent.TRIGGER_EVENT_STARTED, ...own] : own;
}

function ownTriggerEventsOf(run: TaskRun): TriggerEvent[] {
  const lastOutcome = run.attempts.at(-1)?.outcome;
  switch (run.lastEvent) {
    case EventType.EVENT_TYPE_SUBMITTED:
      return [TriggerEvent.TRIGGER_EVENT_SUBMITTED];
    case EventType.EVENT_TYPE_STARTED:
      return [TriggerEvent.TRIGGER_EVENT_STARTED];
    case EventType.EVENT_TYPE_COMPLETED:
    case EventType.EVENT_TYPE_CACHED:
      return [TriggerEvent.TRIGGER_EVENT_COMPLETED];
    case EventType.EVENT_TYPE_CANCELLED:
      return [TriggerEvent.TRIGGER_EVENT_CANCELLED];
    case EventType.EVENT_TYPE_CRASHED:
      return [TriggerEvent.TRIGGER_EVENT_CRASHED];
    case EventType.EVENT_TYPE_RETRY_SCHEDULED:
      return lastOutcome === AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT
        ? [TriggerEvent.TRIGGER_EVENT_RETRY_SCHEDULED, TriggerEvent.TRIGGER_EVENT_FAILED, TriggerEvent.TRIGGER_EVENT_TIMED_OUT]
        : [TriggerEvent.TRIGGER_EVENT_RETRY_SCHEDULED, TriggerEvent.TRIGGER_EVENT_FAILED];
    case EventType.EVENT_TYPE_TIMED_OUT:
      return [TriggerEvent.TRIGGER_EVENT_TIMED_OUT, TriggerEvent.TRIGGER_EVENT_FAILED, TriggerEvent.TRIGGER_EVENT_DEAD_LETTERED];
    case EventType.EVENT_TYPE_EXPIRED:
      return [TriggerEvent.TRIGGER_EVENT_EXPIRED, TriggerEvent.TRIGGER_EVENT_DEAD_LETTERED];
    case EventType.EVENT_TYPE_FAILED:
      // An attempt failed (no retries left, or workers crashed on it too
      // often) — or none ran (a run it waited for failed; never queued).
      return run.state !== RunState.RUN_STATE_FAILED
        ? []
        : lastOutcome !== undefined && lastOutcome !== AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED
          ? [TriggerEvent.TRIGGER_EVENT_FAILED, TriggerEvent.TRIGGER_EVENT_DEAD_LETTERED]
          : [TriggerEvent.TRIGGER_EVENT_DEAD_LETTERED];
    default:
      return [];
  }
}

/**
 * Whether `run` is one the trigger watches: its tasks, queues and labels.
 * The automation's own action runs never match it, and runs of the
 * automations' queue match only a trigger that names that queue, so a
 * failing notification cannot feed a loop of notifications.
 */
export function runMatches(a: Automation, t: AutomationTrigger, run: TaskRun): boolean {
  const queue = run.queue || DEFAULT_QUEUE;
  if (queue === AUTOMATION_QUEUE && !t.queues.includes(AUTOMATION_QUEUE)) return false;
  const labels = run.options?.labels ?? {};
  if (labels[AUTOMATION_LABEL] === a.name) return false;
  if (t.tasks.length > 0 && !t.tasks.includes(run.task)) return false;
  if (t.queues.length > 0 && !t.queues.includes(queue)) return false;
  for (const [k, v] of Object.entries(t.labels)) if (labels[k] !== v) return false;
  return true;
}

/** The events of a trigger's condition, for the event-driven ones. */
export function eventsOf(t: AutomationTrigger): TriggerEvent[] {
  return t.onEvent?.events ?? t.threshold?.events ?? (t.running ? [TriggerEvent.TRIGGER_EVENT_STARTED] : []);
}

/** The run as a firing carries it: proto3 JSON, without logs, large data or long stacks. */
export function runForFiring(run: TaskRun, toJson: (r: TaskRun) => unknown): Firing["run"] {
  const omitted: string[] = [];
  const slim: TaskRun = { ...run, logs: [] };
  if (slim.args && slim.args.data.length > MAX_DATA_BYTES) {
    slim.args = { contentType: slim.args.contentType, data: Buffer.alloc(0) };
    omitted.push("args");
  }
  if (slim.result && slim.result.data.length > MAX_DATA_BYTES) {
    slim.result = { contentType: slim.result.contentType, data: Buffer.alloc(0) };
    omitted.push("result");
  }
  if (slim.error && slim.error.stack.length > MAX_STACK_CHARS) slim.error = { ...slim.error, stack: `${slim.error.stack.slice(0, MAX_STACK_CHARS)}…` };
  slim.attempts = slim.attempts.map((a) => (a.error && a.error.stack.length > MAX_STACK_CHARS ? { ...a, error: { ...a.error, stack: `${a.error.stack.slice(0, MAX_STACK_CHARS)}…` } } : a));
  const json = toJson(slim) as Record<string, unknown>;
  if (omitted.length > 0) json.omitted = omitted;
  return { ...json, id: run.id, task: run.task, namespace: namespaceOf(run) };
}

/** One line about a run event: "run 0190… of send-email DEAD_LETTERED (attempt 3): TypeError: boom". */
export function eventSummary(run: TaskRun, matched: readonly TriggerEvent[]): string {
  const what = matched.map(triggerEventName).join("/");
  const err = run.error && (run.state === RunState.RUN_STATE_FAILED || run.state === RunState.RUN_STATE_AWAITING_RETRY || run.state === RunState.RUN_STATE_CANCELLED) ? `: ${run.error.type}: ${run.error.message}`.slice(0, 300) : "";
  return `run ${run.id} of ${run.task} ${what}${run.attempt > 0 ? ` (attempt ${run.attempt})` : ""}${err}`;
}

/** The id of the firing for an event: `automation:<name>:<run id>:<cursor>`. */
export function eventFiringId(automation: string, runId: string, seq: number): string {
  return `automation:${automation}:${runId}:${seq}`;
}
