import { createHmac } from "node:crypto";
import { status as Status } from "@grpc/grpc-js";
import { context as otContext } from "@opentelemetry/api";
import { type AttemptResult, failure, RunState, type TaskRun } from "@taskwire/protocol";
import { AUTOMATION_TASKS, namespaceOf } from "@taskwire/core";
import type { CronSchedules } from "../cron.js";
import { toServiceError } from "../errors.js";
import type { Runs } from "../runs.js";
import { AddressRefused, type EgressPolicy } from "./egress.js";
import type { ActionInput, AutomationEngine } from "./engine.js";
import type { AutomationStore } from "./store.js";
import { actionKind, AUTOMATION_LIMITS } from "./validate.js";

/** The label a cron fire puts on its run (cron.ts): the schedule's name. */
const SCHEDULE_LABEL = "taskwire.schedule";

/** What the built-in action tasks need. */
export interface ActionDeps {
  runs: Runs;
  cron: CronSchedules;
  store: AutomationStore;
  engine: AutomationEngine;
  egress: EgressPolicy;
}

const done = (value: unknown): { kind: "done"; value: unknown } => ({ kind: "done", value });
/** An attempt that must not be retried (the automation is gone, the endpoint said no). */
const permanent = (type: string, message: string): AttemptResult => ({ kind: "failed", failure: failure(type, message.slice(0, 4_096), { retryable: false }) });
/** An attempt to try again with the run's retry policy (the endpoint is down, NATS is failing). */
const transient = (type: string, message: string, retryAfterMs?: number): AttemptResult => ({ kind: "failed", failure: failure(type, message.slice(0, 4_096), { retryable: true }), retryAfterMs });

/** The outcome of one action attempt: a value to complete with, or the attempt result to record. */
export type ActionOutcome = { kind: "done"; value: unknown } | AttemptResult;

/** The input of an action run: its one JSON argument. */
function inputOf(run: TaskRun): ActionInput | undefined {
  try {
    const args = JSON.parse(Buffer.from(run.args?.data ?? []).toString("utf8")) as unknown;
    const v = (Array.isArray(args) ? args[0] : args) as ActionInput | undefined;
    return v && typeof v.automation === "string" && typeof v.action === "number" && typeof v.firing === "object" ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Carries out one attempt of a built-in action run (task
 * taskwire-webhook, -chat, -cancel-run, -retry-run, -pause-schedule,
 * -check-running). It reads its automation when it executes: an edited URL
 * applies to deliveries still pending; a deleted automation's pending
 * deliveries fail for good (AutomationDeleted).
 */
export async function executeAction(run: TaskRun, signal: AbortSignal, d: ActionDeps): Promise<ActionOutcome> {
  const input = inputOf(run);
  if (!input) return permanent("BadActionInput", `the run's argument is not an automation action ({automation, action, firing}); runs of ${run.task} are made by automations only`);
  const ns = namespaceOf(run);
  try {
    if (run.task === AUTOMATION_TASKS.checkRunning) return done(await d.engine.checkRunning(ns, input));
    const a = await d.store.read(d.engine.keyOf(ns, input.automation));
    if (!a) return permanent("AutomationDeleted", `automation ${input.automation} was deleted; this delivery is dropped`);
    const action = a.actions[input.action];
    const kind = action && actionKind(action, "action");
    const f = input.firing;
    switch (run.task) {
      case AUTOMATION_TASKS.webhook: {
        const w = action?.webhook;
        if (!w) return permanent("AutomationChanged", `action ${input.action} of automation ${a.name} is no longer a webhook (${kind ?? "none"})`);
        const body = JSON.stringify(f);
        const signature = createHmac("sha256", a.secret).update(body).digest("hex");
        return await post(d.egress, w.url, {
          ...w.headers,
          "content-type": "application/json",
          "user-agent": "taskwire-automations",
          "x-taskwire-signature": `sha256=${signature}`,
          "x-taskwire-delivery": run.id,
          "x-taskwire-attempt": String(run.attempt),
          "x-taskwire-automation": a.name,
        }, body, w.timeoutMs || AUTOMATION_LIMITS.defaultTimeoutMs, signal);
      }
      case AUTOMATION_TASKS.chat: {
        const c = action?.chat;
        if (!c) return permanent("AutomationChanged", `action ${input.action} of automation ${a.name} is no longer a chat message (${kind ?? "none"})`);
        const text = `${c.text ? `${c.text} ` : ""}taskwire automation ${a.name}: ${f.summary}`;
        return await post(d.egress, c.url, { "content-type": "application/json", "user-agent": "taskwire-automations" }, JSON.stringify({ text }), c.timeoutMs || AUTOMATION_LIMITS.defaultTimeoutMs, signal);
      }
      case AUTOMATION_TASKS.cancelRun: {
        if (!action?.cancelRun || !f.run) return permanent("AutomationChanged", `action ${input.action} of automation ${a.name} is no longer a cancel_run`);
        try {
          const r = await d.runs.cancel(f.run.id, action.cancelRun.reason || `cancelled by automation ${a.name}: ${f.summary}`.slice(0, 1024), otContext.active(), ns);
          return done({ cancelled: f.run.id, state: RunState[r.state] });
        } catch (err) {
          const se = toServiceError(err);
          if (se.code === Status.FAILED_PRECONDITION || se.code === Status.NOT_FOUND) return done({ skipped: se.details });
          throw err;
        }
      }
      case AUTOMATION_TASKS.retryRun: {
        const max = action?.retryRun?.maxAttempts;
        if (!max || !f.run) return permanent("AutomationChanged", `action ${input.action} of automation ${a.name} is no longer a retry_run`);
        const attempt = Number((f.run as { attempt?: unknown }).attempt ?? 0);
        const cur = await d.runs.get(f.run.id, true, ns).catch(() => undefined);
        if (!cur) return done({ skipped: `run ${f.run.id} no longer exists` });
        // Retried already (by this action's earlier attempt, or anyone): once per event.
        if (cur.attempt !== attempt || (cur.state !== RunState.RUN_STATE_FAILED && cur.state !== RunState.RUN_STATE_CANCELLED)) return done({ skipped: `run ${cur.id} moved on (attempt ${cur.attempt}, ${RunState[cur.state]})` });
        if (cur.attempt >= max) return done({ skipped: `run ${cur.id} has had ${cur.attempt} attempts, the action's max_attempts is ${max}` });
        const r = await d.runs.retry(cur.id, otContext.active(), ns);
        return done({ retried: r.id, attempt: r.attempt + 1 });
      }
      case AUTOMATION_TASKS.pauseSchedule: {
        if (!action?.pauseSchedule) return permanent("AutomationChanged", `action ${input.action} of automation ${a.name} is no longer a pause_schedule`);
        const labels = (f.run as { options?: { labels?: Record<string, string> } } | undefined)?.options?.labels ?? {};
        const name = action.pauseSchedule.name || labels[SCHEDULE_LABEL] || "";
        if (!name) return done({ skipped: `run ${f.run?.id ?? ""} was not submitted by a schedule` });
        try {
          await d.cron.pause(name, true, ns);
          return done({ paused: name });
        } catch (err) {
          const se = toServiceError(err);
          if (se.code === Status.NOT_FOUND) return permanent("ScheduleNotFound", se.details ?? `schedule ${name} not found`);
          throw err;
        }
      }
      default:
        return permanent("UnknownAction", `task ${run.task} is not an automation action`);
    }
  } catch (err) {
    if (signal.aborted) return { kind: "cancelled", reason: String(signal.reason ?? "cancelled") };
    const se = toServiceError(err);
    return se.code === Status.UNAVAILABLE || se.code === Status.ABORTED || se.code === Status.INTERNAL ? transient("Unavailable", se.details ?? String(err)) : permanent(Status[se.code ?? Status.UNKNOWN] ?? "Error", se.details ?? String(err));
  }
}

/** A POST and what its answer means for the delivery. */
async function post(egress: EgressPolicy, url: string, headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal): Promise<ActionOutcome> {
  if (signal.aborted) return { kind: "cancelled", reason: String(signal.reason ?? "cancelled") };
  const started = Date.now();
  let res;
  try {
    res = await egress.post(url, headers, body, timeoutMs);
  } catch (err) {
    if (err instanceof AddressRefused) return permanent("AddressRefused", err.message);
    const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
    const code = e.code ?? e.cause?.code ?? e.name;
    const timedOut = e.name === "TimeoutError" || e.name === "AbortError" || /Timeout/.test(code ?? "");
    return transient(timedOut ? "WebhookTimeout" : "WebhookUnreachable", timedOut ? `no answer from ${redact(url)} within ${timeoutMs} ms` : `${redact(url)}: ${code ?? ""} ${e.cause?.message ?? e.message}`.trim());
  }
  const ms = Date.now() - started;
  const s = res.status;
  if (s >= 200 && s < 300) return done({ status: s, ms });
  const detail = `${redact(url)} answered ${s}${res.text ? `: ${res.text.slice(0, 300)}` : ""}`;
  if (s === 408 || s === 425 || s === 429 || s >= 500) return transient("WebhookFailed", detail, res.retryAfterMs);
  if (s >= 300 && s < 400) return permanent("WebhookRedirected", `${detail}; taskwire does not follow redirects: point the automation at the final URL`);
  return permanent("WebhookRejected", detail);
}

/** The URL without its path and query (they may hold a token, as chat webhooks do). */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return "(bad URL)";
  }
}
