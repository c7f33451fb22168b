import { v7 as uuidv7, validate, version } from "uuid";

/** A new run id: UUIDv7, so ids sort by creation time (ListRuns newest first). */
export function newRunId(): string {
  return uuidv7();
}

export function isRunId(s: string): boolean {
  return validate(s) && version(s) === 7;
}

/** Milliseconds since the epoch encoded in a UUIDv7. */
export function runIdTime(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
