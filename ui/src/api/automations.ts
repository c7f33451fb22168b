import { del, get, post } from "./client.js";
import type { Int64 } from "./types.js";

/** An automation as the JSON API answers it (proto/taskwire/v1/automation.proto). */
export interface Automation {
  name: string;
  description?: string;
  trigger?: {
    tasks?: string[];
    queues?: string[];
    labels?: Record<string, string>;
    onEvent?: { events?: string[] };
    threshold?: { events?: string[]; count?: number; windowMs?: Int64 };
    queueAge?: { olderThanMs?: Int64 };
    running?: { longerThanMs?: Int64 };
  };
  actions?: Array<{
    webhook?: { url?: string };
    chat?: { url?: string };
    submit?: { task?: string };
    cancelRun?: { reason?: string };
    retryRun?: { maxAttempts?: number };
    pauseSchedule?: { name?: string };
  }>;
  cooldownMs?: Int64;
  paused?: boolean;
  createdAt?: string;
  updatedAt?: string;
  status?: {
    fired?: Int64;
    suppressed?: Int64;
    lastFiredAt?: string;
    lastError?: string;
    lastErrorAt?: string;
    recent?: Array<{ time?: string; id?: string; runId?: string; task?: string; summary?: string; actionRunIds?: string[] }>;
  };
}

/** Every automation of the caller's namespace (all pages, 1,000 a call), with status and recent firings. */
export async function listAutomations(signal?: AbortSignal): Promise<Automation[]> {
  const out: Automation[] = [];
  let token = "";
  do {
    const page = await get<{ automations?: Automation[]; nextPageToken?: string }>("/v1/automations", { page_size: 1_000, page_token: token }, signal);
    out.push(...(page.automations ?? []));
    token = page.nextPageToken ?? "";
  } while (token);
  return out;
}

export async function pauseAutomation(name: string, paused: boolean): Promise<Automation | undefined> {
  return (await post<{ automation?: Automation }>(`/v1/automations/${encodeURIComponent(name)}:pause`, { paused })).automation;
}

export async function deleteAutomation(name: string): Promise<void> {
  await del<unknown>(`/v1/automations/${encodeURIComponent(name)}`);
}

const events = (es: string[] | undefined): string => (es ?? []).map((e) => e.replace(/^TRIGGER_EVENT_/, "").toLowerCase().replace(/_/g, "-")).join(", ");
const seconds = (ms: Int64 | undefined): string => {
  const s = Number(ms ?? 0) / 1000;
  return s >= 3600 && s % 3600 === 0 ? `${s / 3600} h` : s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s} s`;
};

/** The condition, in words: "dead-lettered", "5× failed in 10 min", "oldest waiting > 2 min", "running > 15 min". */
export function conditionText(a: Automation): string {
  const t = a.trigger;
  if (!t) return "";
  if (t.onEvent) return events(t.onEvent.events);
  if (t.threshold) return `${t.threshold.count ?? 0}× ${events(t.threshold.events)} in ${seconds(t.threshold.windowMs)}`;
  if (t.queueAge) return `oldest waiting > ${seconds(t.queueAge.olderThanMs)}`;
  if (t.running) return `running > ${seconds(t.running.longerThanMs)}`;
  return "";
}

/** Which runs: "tasks a, b · queue q · label k=v", or "all runs". */
export function scopeText(a: Automation): string {
  const t = a.trigger ?? {};
  const parts = [t.tasks?.length ? `tasks ${t.tasks.join(", ")}` : "", t.queues?.length ? `queues ${t.queues.join(", ")}` : "", Object.entries(t.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(", ")].filter(Boolean);
  return parts.length ? parts.join(" · ") : t.queueAge ? "all queues" : "all runs";
}

/** The actions, in words: "webhook hooks.example.com, chat, submit report". */
export function actionsText(a: Automation): string {
  const host = (u: string | undefined): string => {
    try {
      return new URL(u ?? "").host;
    } catch {
      return "";
    }
  };
  return (a.actions ?? [])
    .map((x) => (x.webhook ? `webhook ${host(x.webhook.url)}` : x.chat ? `chat ${host(x.chat.url)}` : x.submit ? `submit ${x.submit.task ?? ""}` : x.cancelRun ? "cancel the run" : x.retryRun ? "retry the run" : x.pauseSchedule ? `pause schedule ${x.pauseSchedule.name || "(the run's)"}` : "?"))
    .join(", ");
}

export { seconds as durationText };
