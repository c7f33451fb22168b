import { isRunId } from "@taskwire/core";

/**
 * Where a ListRuns page goes on from, in the run index (TASKWIRE_INDEX,
 * read backwards by stream sequence). Pages are listed newest first by run
 * id; a run's index message is stored a little after its id was made, so
 * messages are almost, not exactly, in id order, and a page reads a little
 * past its last run to be sure nothing newer is left behind (see
 * listing.ts). What it read but did not list is read again by the next
 * page, which is what this cursor describes.
 */
export interface ListCursor {
  /**
   * Runs with this id or a larger one were listed (or looked at and left out
   * by the filter) already: in messages at sequence `floor` or above, only
   * smaller ids are left. "" on the first page.
   */
  below: string;
  /** The highest index sequence that may still hold a run to list. */
  top: number;
  /**
   * Index messages below this sequence have not been read by an earlier
   * page: every run in them is still to be listed, whatever its id.
   */
  floor: number;
}

const CURSOR_RE = /^((?:[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})?)\.([0-9a-z]{1,11})\.([0-9a-z]{1,11})$/;

/** The page token of a cursor: `<below>.<top>.<floor>` (`below` may be empty), the two sequences in base 36. */
export function encodeListCursor(c: ListCursor): string {
  return `${c.below}.${c.top.toString(36)}.${c.floor.toString(36)}`;
}

/**
 * A page token: a cursor this broker (or another) made, or a run id — the
 * tokens ListRuns gave before the index, and what the web UI passes to
 * start below a run or a time ("runs with a smaller id"). Undefined for
 * anything else.
 */
export function parsePageToken(token: string): ListCursor | { runId: string } | undefined {
  if (isRunId(token)) return { runId: token };
  const m = CURSOR_RE.exec(token);
  if (!m || m[1] === undefined || !m[2] || !m[3] || (m[1] !== "" && !isRunId(m[1]))) return undefined;
  const top = parseInt(m[2], 36);
  const floor = parseInt(m[3], 36);
  if (!Number.isSafeInteger(top) || !Number.isSafeInteger(floor)) return undefined;
  return { below: m[1], top, floor };
}
