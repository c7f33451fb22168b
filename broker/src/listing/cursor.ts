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
   * Runs listed at or above this key (listKey: the run id, but for a run
   * indexed late) were listed, or looked at and left out by the filter,
   * already: in messages at sequence `floor` or above only smaller keys are
   * left. "" on the first page.
   */
  below: string;
  /** The highest index sequence that may still hold a run to list. */
  top: number;
  /** Index messages below this sequence: every run in them is still to be listed, whatever its key. */
  floor: number;
  /** The lowest sequence earlier pages read: the next page reads `from`…`top` again before it lists anything. */
  from: number;
  /**
   * Runs left above `top` (indexed a while after their id was made, so
   * their turn comes further down): the sequences of their messages, read
   * again one by one instead of everything down from them.
   */
  pinned: number[];
}

/** Most sequences a token pins. */
export const MAX_PINNED = 32;

const UUID7 = "[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}";
const SEQ = "([0-9a-z]{1,11})";
const CURSOR_RE = new RegExp(`^((?:${UUID7})?)\\.${SEQ}\\.${SEQ}\\.${SEQ}(?:\\.([0-9a-z]{1,11}(?:-[0-9a-z]{1,11}){0,${MAX_PINNED - 1}}))?$`);

/** The page token of a cursor: `<below>.<top>.<floor>.<from>[.<pinned>-…]` (`below` may be empty), the sequences in base 36. */
export function encodeListCursor(c: ListCursor): string {
  const pinned = c.pinned.length > 0 ? `.${c.pinned.map((q) => q.toString(36)).join("-")}` : "";
  return `${c.below}.${c.top.toString(36)}.${c.floor.toString(36)}.${c.from.toString(36)}${pinned}`;
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
  if (!m || m[1] === undefined || !m[2] || !m[3] || !m[4] || (m[1] !== "" && !isRunId(m[1]))) return undefined;
  const [top, floor, from] = [parseInt(m[2], 36), parseInt(m[3], 36), parseInt(m[4], 36)];
  const pinned = m[5] ? m[5].split("-").map((q) => parseInt(q, 36)) : [];
  if (![top, floor, from, ...pinned].every(Number.isSafeInteger)) return undefined;
  return { below: m[1], top, floor, from, pinned };
}
