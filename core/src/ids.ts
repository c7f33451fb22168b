import { newUuidV7 } from "@taskwire/protocol";
import { validate, version } from "uuid";

/** A new run id: UUIDv7, so ids sort by creation time (ListRuns newest first). */
export function newRunId(): string {
  return newUuidV7();
}

export function isRunId(s: string): boolean {
  return validate(s) && version(s) === 7;
}

/** Whether `s` is a UUID (any version), in its canonical text form. */
export function isUuid(s: string): boolean {
  return validate(s);
}

/**
 * How far a request id's time may be from this clock for it to become its
 * run's id, in ms: run ids sort by time (ListRuns, StreamEvents of several
 * runs), and a retry made inside it reaches the broker well within
 * JetStream's 2-minute duplicate window, where publishing again is a no-op.
 */
export const REQUEST_ID_SKEW_MS = 60_000;

/** `requestId` when it may be its run's id (a UUIDv7 made within REQUEST_ID_SKEW_MS of `now`); else undefined. */
export function requestRunId(requestId: string, now: number): string | undefined {
  return isRunId(requestId) && Math.abs(runIdTime(requestId) - now) <= REQUEST_ID_SKEW_MS ? requestId.toLowerCase() : undefined;
}

/** Milliseconds since the epoch encoded in a UUIDv7. */
export function runIdTime(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
