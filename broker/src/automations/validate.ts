import { randomBytes } from "node:crypto";
import { type Automation, type AutomationAction, type AutomationTrigger, type RetryPolicy, SubmitOptions, SubmitRequest, TriggerEvent } from "@taskwire/protocol";
import { AUTOMATION_QUEUE, QUEUE_NAME_RE } from "@taskwire/core";
import { BrokerError } from "../errors.js";
import { LIMITS, validateSubmit, validateTaskName } from "../validate.js";
import type { Scope } from "../auth/index.js";

const invalid = BrokerError.invalid;

/**
 * The limits of an automation (docs/limits.md lists them). Over one is
 * INVALID_ARGUMENT naming the field and the limit.
 */
export const AUTOMATION_LIMITS = {
  descriptionChars: 1024,
  actions: 10,
  filterTasks: 100,
  filterQueues: 100,
  events: 16,
  thresholdCount: 10_000,
  /** Shortest and longest threshold window, queue age and cool-down: 1 s and 7 days, in ms. */
  minDurationMs: 1_000,
  maxDurationMs: 7 * 86_400_000,
  urlChars: 2048,
  headers: 16,
  headerValueChars: 1024,
  /** Webhook and chat request timeout, in ms. */
  minTimeoutMs: 100,
  maxTimeoutMs: 60_000,
  defaultTimeoutMs: 10_000,
  chatTextChars: 1024,
  reasonChars: 1024,
  maxRetryAttempts: 100,
  defaultRetryAttempts: 3,
  secretMinChars: 16,
  secretMaxChars: 256,
  /** Automations one namespace may have. */
  perNamespace: 1_000,
} as const;

/** The delivery retry policy of action runs when an automation sets none: 20 retries, 1 s doubling to 5 min, ±20 % (about an hour). */
export const DEFAULT_DELIVERY_RETRY: RetryPolicy = {
  maxRetries: 20,
  initialDelayMs: 1_000,
  backoffMultiplier: 2,
  maxDelayMs: 300_000,
  jitter: 0.2,
  delaysMs: [],
  retryOn: [],
  neverRetryOn: [],
};

/** Headers taskwire sets itself; an action may not set them. */
const RESERVED_HEADER = /^(host|content-.*|x-taskwire-.*|connection|transfer-encoding|te|upgrade|trailer|keep-alive|proxy-.*)$/i;
const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;

function maxChars(field: string, v: string, max: number): void {
  if (v.length > max) throw invalid(field, `is ${v.length} characters; the limit is ${max}`);
}

function duration(field: string, v: number, min: number, max: number, zeroMeans?: string): void {
  if (zeroMeans !== undefined && v === 0) return;
  if (!Number.isInteger(v) || v < min || v > max) throw invalid(field, `must be ${zeroMeans !== undefined ? `0 (${zeroMeans}) or ` : ""}${min}–${max} ms, got ${v}`);
}

/** Parses and checks a webhook or chat URL (the address check happens against the broker's allow-list, see egress.ts). */
export function validateUrl(field: string, raw: string): URL {
  if (!raw) throw invalid(field, "is required: the http(s) URL to POST to");
  maxChars(field, raw, AUTOMATION_LIMITS.urlChars);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw invalid(field, `"${raw.slice(0, 120)}" is not a URL; write it in full, e.g. https://hooks.example.com/taskwire`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw invalid(field, `scheme "${u.protocol}" is not allowed; use https:// (or http://)`);
  if (u.username || u.password) throw invalid(field, "must not carry user:password; put credentials in a header (webhook headers) or rely on the signature");
  if (!u.hostname) throw invalid(field, "has no host");
  return u;
}

function validateFilter(t: AutomationTrigger): void {
  if (t.tasks.length > AUTOMATION_LIMITS.filterTasks) throw invalid("automation.trigger.tasks", `has ${t.tasks.length} tasks; the limit is ${AUTOMATION_LIMITS.filterTasks}`);
  t.tasks.forEach((task, i) => validateTaskName(task, `automation.trigger.tasks[${i}]`));
  if (t.queues.length > AUTOMATION_LIMITS.filterQueues) throw invalid("automation.trigger.queues", `has ${t.queues.length} queues; the limit is ${AUTOMATION_LIMITS.filterQueues}`);
  t.queues.forEach((q, i) => {
    if (!QUEUE_NAME_RE.test(q)) throw invalid(`automation.trigger.queues[${i}]`, `"${q.slice(0, 80)}" is not a valid queue name: use 1–64 characters of a-z, 0-9 and "-"`);
  });
  const labels = Object.entries(t.labels);
  if (labels.length > LIMITS.labels) throw invalid("automation.trigger.labels", `has ${labels.length} entries; the limit is ${LIMITS.labels}`);
  for (const [k, v] of labels) {
    if (!k || k.length > LIMITS.labelKeyChars) throw invalid("automation.trigger.labels", `key "${k.slice(0, 80)}" must be 1–${LIMITS.labelKeyChars} characters`);
    maxChars(`automation.trigger.labels[${k}]`, v, LIMITS.labelValueChars);
  }
}

function validateEvents(field: string, events: readonly TriggerEvent[]): void {
  if (events.length === 0) throw invalid(field, "is empty: name the events that fire it, e.g. DEAD_LETTERED, FAILED, TIMED_OUT, CRASHED, COMPLETED, CANCELLED");
  if (events.length > AUTOMATION_LIMITS.events) throw invalid(field, `has ${events.length} events; the limit is ${AUTOMATION_LIMITS.events}`);
  events.forEach((e, i) => {
    if (e === TriggerEvent.TRIGGER_EVENT_UNSPECIFIED || TriggerEvent[e] === undefined || e === TriggerEvent.UNRECOGNIZED) throw invalid(`${field}[${i}]`, `${e} is not a trigger event`);
  });
}

/** Which condition a trigger has; INVALID_ARGUMENT unless exactly one. */
export type ConditionKind = "onEvent" | "threshold" | "queueAge" | "running";

export function conditionOf(t: AutomationTrigger): ConditionKind {
  const set = (["onEvent", "threshold", "queueAge", "running"] as const).filter((k) => t[k] !== undefined);
  if (set.length !== 1) {
    throw invalid("automation.trigger", set.length === 0 ? "needs a condition: on_event, threshold, queue_age or running" : `has ${set.length} conditions (${set.join(", ")}); set exactly one`);
  }
  return set[0] as ConditionKind;
}

/** The kind of an action; INVALID_ARGUMENT unless exactly one is set. */
export type ActionKind = keyof AutomationAction;

export function actionKind(a: AutomationAction, field: string): ActionKind {
  const set = (["webhook", "chat", "submit", "cancelRun", "retryRun", "pauseSchedule"] as const).filter((k) => a[k] !== undefined);
  if (set.length !== 1) throw invalid(field, set.length === 0 ? "is empty: set one of webhook, chat, submit, cancel_run, retry_run, pause_schedule" : `sets ${set.join(" and ")}; one action per entry`);
  return set[0] as ActionKind;
}

/** The scope each kind of action needs beside automations:admin: an automation may do only what its author may. */
export const ACTION_SCOPES: Partial<Record<ActionKind, Scope>> = {
  submit: "runs:submit",
  cancelRun: "runs:cancel",
  retryRun: "runs:cancel",
  pauseSchedule: "schedules:admin",
};

export interface AutomationBounds {
  maxPayloadBytes: number;
  retentionMs: number;
}

/**
 * Checks an automation as a caller sent it and returns it with its
 * defaults filled in (timeouts, retry attempts); output-only fields are
 * cleared. Every field over a limit is INVALID_ARGUMENT naming it.
 */
export function validateAutomation(input: Automation | undefined, bounds: AutomationBounds): Automation {
  if (!input) throw invalid("automation", "is required");
  validateTaskName(input.name, "automation.name");
  maxChars("automation.description", input.description, AUTOMATION_LIMITS.descriptionChars);
  const t = input.trigger;
  if (!t) throw invalid("automation.trigger", "is required: which runs and which events or condition fire it");
  validateFilter(t);
  const kind = conditionOf(t);
  if (kind === "onEvent") validateEvents("automation.trigger.on_event.events", t.onEvent?.events ?? []);
  if (kind === "threshold") {
    const th = t.threshold;
    validateEvents("automation.trigger.threshold.events", th?.events ?? []);
    const count = th?.count ?? 0;
    if (!Number.isInteger(count) || count < 1 || count > AUTOMATION_LIMITS.thresholdCount) throw invalid("automation.trigger.threshold.count", `must be 1–${AUTOMATION_LIMITS.thresholdCount}, got ${count}`);
    duration("automation.trigger.threshold.window_ms", th?.windowMs ?? 0, AUTOMATION_LIMITS.minDurationMs, AUTOMATION_LIMITS.maxDurationMs);
  }
  if (kind === "queueAge") duration("automation.trigger.queue_age.older_than_ms", t.queueAge?.olderThanMs ?? 0, AUTOMATION_LIMITS.minDurationMs, AUTOMATION_LIMITS.maxDurationMs);
  if (kind === "running") duration("automation.trigger.running.longer_than_ms", t.running?.longerThanMs ?? 0, AUTOMATION_LIMITS.minDurationMs, bounds.retentionMs);
  if (input.actions.length === 0) throw invalid("automation.actions", "is empty: add 1–10 actions (webhook, chat, submit, cancel_run, retry_run, pause_schedule)");
  if (input.actions.length > AUTOMATION_LIMITS.actions) throw invalid("automation.actions", `has ${input.actions.length} actions; the limit is ${AUTOMATION_LIMITS.actions}`);
  const actions = input.actions.map((a, i) => validateAction(a, `automation.actions[${i}]`, kind, bounds));
  duration("automation.cooldown_ms", input.cooldownMs, 0, AUTOMATION_LIMITS.maxDurationMs);
  if (input.deliveryRetry) {
    // The submit checks apply to the policy as they would to any run's.
    validateSubmit(SubmitRequest.fromPartial({ task: "x", options: { retry: input.deliveryRetry } }), bounds, "automation.delivery_");
  }
  if (input.secret) {
    if (input.secret.length < AUTOMATION_LIMITS.secretMinChars || input.secret.length > AUTOMATION_LIMITS.secretMaxChars) {
      throw invalid("automation.secret", `must be ${AUTOMATION_LIMITS.secretMinChars}–${AUTOMATION_LIMITS.secretMaxChars} characters (got ${input.secret.length}); leave it empty and the broker generates one`);
    }
  }
  return { ...input, trigger: t, actions, namespace: "", createdAt: undefined, updatedAt: undefined, status: undefined };
}

function validateAction(a: AutomationAction, f: string, condition: ConditionKind, bounds: AutomationBounds): AutomationAction {
  const kind = actionKind(a, f);
  const aboutRun = condition !== "queueAge";
  switch (kind) {
    case "webhook": {
      const w = a.webhook ?? { url: "", headers: {}, timeoutMs: 0 };
      validateUrl(`${f}.webhook.url`, w.url);
      duration(`${f}.webhook.timeout_ms`, w.timeoutMs, AUTOMATION_LIMITS.minTimeoutMs, AUTOMATION_LIMITS.maxTimeoutMs, `${AUTOMATION_LIMITS.defaultTimeoutMs}`);
      const headers = Object.entries(w.headers);
      if (headers.length > AUTOMATION_LIMITS.headers) throw invalid(`${f}.webhook.headers`, `has ${headers.length} headers; the limit is ${AUTOMATION_LIMITS.headers}`);
      for (const [k, v] of headers) {
        if (!HEADER_NAME.test(k)) throw invalid(`${f}.webhook.headers`, `"${k.slice(0, 80)}" is not a header name: use 1–64 of A-Z, a-z, 0-9 and "-"`);
        if (RESERVED_HEADER.test(k)) throw invalid(`${f}.webhook.headers`, `"${k}" is set by taskwire (Host, Content-*, X-Taskwire-*, hop-by-hop headers)`);
        maxChars(`${f}.webhook.headers[${k}]`, v, AUTOMATION_LIMITS.headerValueChars);
        if (/[\r\n\0]/.test(v)) throw invalid(`${f}.webhook.headers[${k}]`, "must not contain CR, LF or NUL");
      }
      return { webhook: { ...w, timeoutMs: w.timeoutMs || AUTOMATION_LIMITS.defaultTimeoutMs } };
    }
    case "chat": {
      const c = a.chat ?? { url: "", text: "", timeoutMs: 0 };
      validateUrl(`${f}.chat.url`, c.url);
      maxChars(`${f}.chat.text`, c.text, AUTOMATION_LIMITS.chatTextChars);
      duration(`${f}.chat.timeout_ms`, c.timeoutMs, AUTOMATION_LIMITS.minTimeoutMs, AUTOMATION_LIMITS.maxTimeoutMs, `${AUTOMATION_LIMITS.defaultTimeoutMs}`);
      return { chat: { ...c, timeoutMs: c.timeoutMs || AUTOMATION_LIMITS.defaultTimeoutMs } };
    }
    case "submit": {
      const s = a.submit ?? { task: "", options: undefined };
      const options = SubmitOptions.fromPartial({ ...s.options, idempotencyKey: "" });
      if (s.options?.idempotencyKey) throw invalid(`${f}.submit.options.idempotency_key`, "is set by the broker (one run per firing); leave it empty");
      if ((options.queue || "default") === AUTOMATION_QUEUE) throw invalid(`${f}.submit.options.queue`, `"${AUTOMATION_QUEUE}" is the automations' own queue; pick another`);
      // A run of the task with a firing as its argument must be valid.
      validateSubmit(SubmitRequest.fromPartial({ task: s.task, options }), bounds, `${f}.submit.`);
      return { submit: { task: s.task, options } };
    }
    case "cancelRun": {
      if (!aboutRun) throw invalid(`${f}.cancel_run`, "needs a run: a queue_age trigger has none");
      const reason = a.cancelRun?.reason ?? "";
      maxChars(`${f}.cancel_run.reason`, reason, AUTOMATION_LIMITS.reasonChars);
      return { cancelRun: { reason } };
    }
    case "retryRun": {
      if (!aboutRun) throw invalid(`${f}.retry_run`, "needs a run: a queue_age trigger has none");
      const max = a.retryRun?.maxAttempts ?? 0;
      if (!Number.isInteger(max) || max < 0 || max > AUTOMATION_LIMITS.maxRetryAttempts) throw invalid(`${f}.retry_run.max_attempts`, `must be 0 (default ${AUTOMATION_LIMITS.defaultRetryAttempts}) or 1–${AUTOMATION_LIMITS.maxRetryAttempts}, got ${max}`);
      return { retryRun: { maxAttempts: max || AUTOMATION_LIMITS.defaultRetryAttempts } };
    }
    case "pauseSchedule": {
      const name = a.pauseSchedule?.name ?? "";
      if (name) validateTaskName(name, `${f}.pause_schedule.name`);
      else if (!aboutRun) throw invalid(`${f}.pause_schedule.name`, "is required with a queue_age trigger (there is no run whose schedule to pause)");
      return { pauseSchedule: { name } };
    }
  }
}

/** A new signing secret: 32 random bytes, hex. */
export function newSecret(): string {
  return randomBytes(32).toString("hex");
}
