import type { RunEvent, TaskRun } from "../api/types.js";
import { matches, type RunFilter } from "../lib/filters.js";
import { revisionOf } from "../lib/runs.js";

/** The most rows the first page grows to with live arrivals; past it, arrivals are counted, not shown. */
export const MAX_LIVE_ROWS = 250;

export interface LiveContext {
  filter: RunFilter;
  /** New runs may be inserted (first page, window open at the end). */
  acceptNew: boolean;
  /** Older runs exist past the last row (a run older than it belongs on a later page). */
  hasNext: boolean;
}

export interface LiveRows {
  rows: TaskRun[];
  /** Matching runs that arrived but were not inserted (the page is full). */
  hidden: number;
}

/**
 * Applies a batch of events to the rows: a known run takes the newer
 * snapshot (by revision, so replays and out-of-order batches are harmless);
 * an unknown run that passes the filter is inserted in id order when new
 * runs are accepted and it belongs on this page. Returns the same array
 * when nothing changed, so nothing re-renders.
 */
export function applyEvents(prev: LiveRows, events: readonly RunEvent[], ctx: LiveContext): LiveRows {
  let rows = prev.rows;
  let hidden = prev.hidden;
  let index: Map<string, number> | undefined;
  const copy = (): void => {
    if (rows === prev.rows) rows = rows.slice();
  };
  for (const e of events) {
    const run = e.run;
    if (!run?.id) continue;
    index ??= new Map(rows.map((r, i) => [r.id, i]));
    const i = index.get(run.id);
    if (i !== undefined) {
      const old = rows[i];
      if (old && revisionOf(run) > revisionOf(old)) {
        copy();
        rows[i] = run;
      }
      continue;
    }
    if (!ctx.acceptNew || !matches(run, ctx.filter)) continue;
    const last = rows.at(-1);
    if (ctx.hasNext && last && run.id < last.id) continue;
    if (rows.length >= MAX_LIVE_ROWS) {
      hidden++;
      continue;
    }
    copy();
    let at = rows.findIndex((r) => r.id < run.id);
    if (at < 0) at = rows.length;
    rows.splice(at, 0, run);
    index = undefined; // positions moved
  }
  return rows === prev.rows && hidden === prev.hidden ? prev : { rows, hidden };
}
