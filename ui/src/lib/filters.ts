import { RUN_STATES, type RunState, type TaskRun } from "../api/types.js";
import { parseTime } from "./format.js";

/**
 * The runs list's filters, as kept in the page's URL. Task, queue and
 * states are filtered by the broker (ListRuns and the event stream); label
 * and time are checked here, on the pages the broker returns — except the
 * end of a time range, which becomes the page token to start from (run ids
 * are UUIDv7, ordered by creation time, and ListRuns pages by run id).
 */
export interface RunFilter {
  task: string;
  queue: string;
  states: RunState[];
  /** "key=value", or "key" for any value. */
  label: string;
  /** A preset ("15m", "1h", "24h", "7d"), "custom" (from/to), or "" for any time. */
  range: string;
  /** Custom range start, epoch ms (0: open). */
  from: number;
  /** Custom range end, epoch ms (0: open). */
  to: number;
}

export const EMPTY_FILTER: RunFilter = { task: "", queue: "", states: [], label: "", range: "", from: 0, to: 0 };

export const RANGE_PRESETS: ReadonlyArray<{ value: string; label: string; ms: number }> = [
  { value: "15m", label: "Last 15 minutes", ms: 15 * 60_000 },
  { value: "1h", label: "Last hour", ms: 3_600_000 },
  { value: "24h", label: "Last 24 hours", ms: 86_400_000 },
  { value: "7d", label: "Last 7 days", ms: 7 * 86_400_000 },
];

const isState = (s: string): s is RunState => (RUN_STATES as readonly string[]).includes(s);

/** Reads a filter from URL parameters (unknown states are dropped). */
export function filterFromParams(p: URLSearchParams): RunFilter {
  const states = (p.get("states") ?? "")
    .split(",")
    .map((s) => (s.startsWith("RUN_STATE_") ? s : `RUN_STATE_${s.toUpperCase()}`))
    .filter(isState);
  const num = (k: string): number => {
    const v = p.get(k);
    if (!v) return 0;
    const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    return Number.isFinite(n) ? n : 0;
  };
  return {
    task: p.get("task") ?? "",
    queue: p.get("queue") ?? "",
    states,
    label: p.get("label") ?? "",
    range: p.get("range") ?? "",
    from: num("from"),
    to: num("to"),
  };
}

/** The URL parameters of a filter (empty fields left out). */
export function filterToParams(f: RunFilter): URLSearchParams {
  const p = new URLSearchParams();
  if (f.task) p.set("task", f.task);
  if (f.queue) p.set("queue", f.queue);
  if (f.states.length) p.set("states", f.states.map((s) => s.replace("RUN_STATE_", "").toLowerCase()).join(","));
  if (f.label) p.set("label", f.label);
  if (f.range) p.set("range", f.range);
  if (f.range === "custom" && f.from) p.set("from", new Date(f.from).toISOString());
  if (f.range === "custom" && f.to) p.set("to", new Date(f.to).toISOString());
  return p;
}

/** The time window [since, until] in epoch ms at `now` (0: open end). */
export function timeWindow(f: RunFilter, now = Date.now()): { since: number; until: number } {
  const preset = RANGE_PRESETS.find((r) => r.value === f.range);
  if (preset) return { since: now - preset.ms, until: 0 };
  if (f.range === "custom") return { since: f.from, until: f.to };
  return { since: 0, until: 0 };
}

/** Whether the filter has parts the broker cannot apply (so pages are filtered here). */
export function filtersLocally(f: RunFilter): boolean {
  return f.label !== "" || f.range !== "";
}

export function matchesLabel(run: TaskRun, label: string): boolean {
  if (!label) return true;
  const eq = label.indexOf("=");
  const key = (eq < 0 ? label : label.slice(0, eq)).trim();
  const labels = run.options?.labels ?? {};
  if (!(key in labels)) return false;
  return eq < 0 || labels[key] === label.slice(eq + 1).trim();
}

/** Whether a run passes every part of the filter (used for live rows and for the broker's pages). */
export function matches(run: TaskRun, f: RunFilter, now = Date.now()): boolean {
  if (f.task && run.task !== f.task) return false;
  if (f.queue && (run.queue || "default") !== f.queue) return false;
  if (f.states.length && !f.states.includes(run.state ?? "RUN_STATE_UNSPECIFIED")) return false;
  if (!matchesLabel(run, f.label)) return false;
  const { since, until } = timeWindow(f, now);
  if (since || until) {
    const t = parseTime(run.createdAt) ?? 0;
    if (since && t < since) return false;
    if (until && t > until) return false;
  }
  return true;
}

/**
 * A ListRuns page token that starts the listing with runs created at or
 * before `ms`: the smallest UUIDv7 of the next millisecond. ListRuns lists
 * run ids below its token, newest first.
 */
export function tokenBefore(ms: number): string {
  const hex = Math.floor(ms + 1)
    .toString(16)
    .padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}
