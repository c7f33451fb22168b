import { randomFillSync } from "node:crypto";
import { v7 as uuidv7, validate, version } from "uuid";

// uuid draws 16 random bytes per id with a syscall-backed fill every few
// ids; profiles showed ~9 % of broker CPU there under load. Fill 4 KiB at a
// time instead (256 ids per fill).
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;
// Monotonic within a millisecond, as uuid does without options: a random
// 31-bit sequence at each new millisecond, incremented within it.
let lastMs = -Infinity;
let seq = 0;

/** A new run id: UUIDv7, so ids sort by creation time (ListRuns newest first). */
export function newRunId(): string {
  if (offset + 16 > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const random = pool.subarray(offset, offset + 16);
  offset += 16;
  const now = Date.now();
  if (now > lastMs) {
    seq = (((random[6] ?? 0) & 0x7f) << 24) | ((random[7] ?? 0) << 16) | ((random[8] ?? 0) << 8) | (random[9] ?? 0);
    lastMs = now;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs++;
  }
  return uuidv7({ random, msecs: lastMs, seq });
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
