import type { TaskRun } from "../api/types.js";

/** A revision as a number (the JSON mapping may send 64-bit integers as strings). */
export function revisionOf(run: TaskRun): number {
  return Number(run.revision ?? 0);
}
