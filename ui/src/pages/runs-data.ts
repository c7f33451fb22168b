import { listRuns } from "../api/endpoints.js";
import type { TaskRun } from "../api/types.js";
import { parseTime } from "../lib/format.js";
import { filtersLocally, matches, type RunFilter, timeWindow } from "../lib/filters.js";

/** Rows per page of the runs list. */
export const PAGE_SIZE = 50;
/** With label or time filters, at most this many runs are scanned for one page; the user may scan on. */
export const SCAN_BUDGET = 5_000;
/** How long one page keeps asking ListRuns when its answers are short of a page (a broker-side filter's bounded scans). */
export const SERVER_SCAN_MS = 3_000;
/** ListRuns page size of such scans: fewer, larger calls (each call has a fixed cost in the broker). */
export const SCAN_PAGE = 500;

export interface RunsPage {
  rows: TaskRun[];
  /** Token of the next (older) page; "" when this is the last. */
  next: string;
  /** Runs the broker returned for this page (more than rows when filtered here). */
  scanned: number;
}

/**
 * One page of the runs list, newest first. Without label or time filters it
 * is one ListRuns call (more when the broker's answer is short of a page). With them, ListRuns pages are read (SCAN_PAGE at a time)
 * and filtered here until the page is full, the scan budget is spent (then
 * `next` lets the user go on), or the runs are older than the window's start.
 * While a page takes several calls, `onPartial` gets the rows found so far.
 */
export async function loadRunsPage(f: RunFilter, token: string, signal: AbortSignal, onPartial?: (rows: readonly TaskRun[]) => void): Promise<RunsPage> {
  const query = { task: f.task, queue: f.queue, states: f.states };
  if (!filtersLocally(f)) {
    // With a state filter the broker answers after a bounded scan, maybe
    // short of a page but with a token to go on: go on for a while.
    const deadline = Date.now() + SERVER_SCAN_MS;
    const rows: TaskRun[] = [];
    let next = token;
    do {
      const page = await listRuns({ ...query, pageSize: PAGE_SIZE - rows.length, pageToken: next }, signal);
      rows.push(...(page.runs ?? []));
      next = page.nextPageToken ?? "";
      if (rows.length < PAGE_SIZE && next) onPartial?.(rows.slice());
    } while (rows.length < PAGE_SIZE && next && Date.now() < deadline);
    return { rows, next, scanned: rows.length };
  }
  const { since } = timeWindow(f);
  const rows: TaskRun[] = [];
  let scanned = 0;
  let next = token;
  for (;;) {
    const page = await listRuns({ ...query, pageSize: SCAN_PAGE, pageToken: next }, signal);
    const runs = page.runs ?? [];
    next = page.nextPageToken ?? "";
    let tooOld = false;
    for (const run of runs) {
      scanned++;
      if (since && (parseTime(run.createdAt) ?? 0) < since) {
        tooOld = true;
        break;
      }
      if (matches(run, f)) rows.push(run);
      if (rows.length === PAGE_SIZE) {
        // Resume right after this run: ListRuns lists ids below the token.
        const lastOfAll = !next && run === runs.at(-1);
        return { rows, next: lastOfAll ? "" : run.id, scanned };
      }
    }
    if (tooOld) return { rows, next: "", scanned };
    if (!next || scanned >= SCAN_BUDGET) return { rows, next, scanned };
    onPartial?.(rows.slice());
  }
}
