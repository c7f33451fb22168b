import { Status, TaskwireError } from "./errors.js";

/** How the client retries a call that failed because the broker or NATS was briefly unreachable. */
export interface CallRetry {
  /** Attempts in all, the first included. @default 5 */
  maxAttempts?: number;
  /** Wait before the first retry, in ms. @default 50 */
  initialBackoffMs?: number;
  /** Longest wait between attempts, in ms. @default 1_000 */
  maxBackoffMs?: number;
  /** Growth of the wait per attempt. @default 2 */
  multiplier?: number;
  /** Random spread (±) of each wait, 0–1. @default 0.2 */
  jitter?: number;
}

export const DEFAULT_CALL_RETRY: Required<CallRetry> = { maxAttempts: 5, initialBackoffMs: 50, maxBackoffMs: 1_000, multiplier: 2, jitter: 0.2 };

/** The broker's documented retryable ABORTED: a concurrent first use of the same idempotency key. */
const RETRYABLE_ABORTED = "idempotency key changed concurrently; retry the call";

/** Whether a failed call may be sent again: UNAVAILABLE always; for a keyed Submit also the documented ABORTED. */
export function isRetryable(err: unknown, keyed: boolean): boolean {
  if (!(err instanceof TaskwireError)) return false;
  if (err.code === Status.UNAVAILABLE) return true;
  return keyed && err.code === Status.ABORTED && err.message.includes(RETRYABLE_ABORTED);
}

/**
 * Calls `attempt` until it succeeds, fails with an error that is not
 * retryable, runs out of attempts, or the next wait would end after
 * `deadline` (ms since the epoch) with no room for one more attempt; the
 * last error is thrown.
 */
export async function withRetry<T>(policy: Required<CallRetry> | undefined, deadline: number, keyed: boolean, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    const began = Date.now();
    try {
      return await attempt();
    } catch (err) {
      if (!policy || n >= policy.maxAttempts || !isRetryable(err, keyed)) throw err;
      const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** (n - 1));
      const wait = Math.max(0, Math.round(base * (1 + policy.jitter * (2 * Math.random() - 1))));
      // No retry that could not end in time: after the wait there must be
      // room for an attempt like this one (twice its time, at least 10 ms),
      // or the caller would get a deadline instead of the real error.
      if (Date.now() + wait + Math.max(2 * (Date.now() - began), 10) >= deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
