import type { RunState } from "../api/types.js";

/** "RUN_STATE_AWAITING_RETRY" → "awaiting retry". */
export function stateLabel(state: RunState | undefined): string {
  return (state ?? "RUN_STATE_UNSPECIFIED").replace(/^RUN_STATE_/, "").replace(/_/g, " ").toLowerCase();
}

/** "EVENT_TYPE_RETRY_SCHEDULED" → "retry scheduled" (any enum name with a prefix). */
export function enumLabel(name: string | undefined, prefix: string): string {
  return (name ?? "").replace(prefix, "").replace(/_/g, " ").toLowerCase();
}

export function isTerminal(state: RunState | undefined): boolean {
  return state === "RUN_STATE_COMPLETED" || state === "RUN_STATE_FAILED" || state === "RUN_STATE_CANCELLED";
}

export function parseTime(t: string | undefined): number | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** Local time, "2026-12-01 13:04:05.123" (ms only when asked). */
export function formatTime(t: string | number | undefined, ms = false): string {
  const v = typeof t === "number" ? t : parseTime(t);
  if (v === undefined) return "";
  const d = new Date(v);
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return ms ? `${base}.${pad(d.getMilliseconds(), 3)}` : base;
}

/** 850 → "850 ms", 12_300 → "12.3 s", 125_000 → "2 min 5 s", 3 days → "3 d 0 h". */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "";
  const a = Math.abs(ms);
  if (a < 1_000) return `${Math.round(ms)} ms`;
  if (a < 60_000) return `${(ms / 1_000).toFixed(a < 10_000 ? 2 : 1)} s`;
  const s = Math.round(a / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3_600)} h ${Math.floor((s % 3_600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3_600)} h`;
}

/** How long ago (or, for a future time, "in …"). */
export function formatAgo(t: string | number | undefined, now = Date.now()): string {
  const v = typeof t === "number" ? t : parseTime(t);
  if (v === undefined) return "";
  const d = now - v;
  if (Math.abs(d) < 1_000) return "now";
  return d >= 0 ? `${formatDuration(d)} ago` : `in ${formatDuration(-d)}`;
}

/** Duration of a run or attempt: finished − started, or so far while it runs. */
export function elapsed(start: string | undefined, end: string | undefined, now = Date.now()): number | undefined {
  const s = parseTime(start);
  if (s === undefined) return undefined;
  return (parseTime(end) ?? now) - s;
}

/** The first 8 characters of a UUID run id, for tables (the full id is in the link and title). */
export function shortId(id: string): string {
  return id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}
