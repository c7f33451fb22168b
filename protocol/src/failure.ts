import type { Failure } from "./gen/index.js";

/** Options of a recorded failure. */
export interface FailureOptions {
  /** The error's stack trace, if there is one. @default "" */
  stack?: string;
  /** Whether the retry policy may retry it. @default false */
  retryable?: boolean;
}

/**
 * The one constructor of a recorded `Failure`. Failures the engine records
 * itself (cancelled, expired, crashed...) are not retryable unless said so;
 * failures a task threw are made by the worker from the error.
 */
export function failure(type: string, message: string, options: FailureOptions = {}): Failure {
  return { type, message, stack: options.stack ?? "", retryable: options.retryable ?? false };
}

/** Turns anything a task threw into the Failure recorded on the run, and its "retry after" request if it made one. */
export function failureOf(err: unknown): { failure: Failure; retryAfterMs: number | undefined } {
  if (err instanceof Error) {
    const e = err as Error & { retryable?: unknown; delayMs?: unknown };
    const retryAfterMs = e.name === "RetryAfterError" && typeof e.delayMs === "number" ? e.delayMs : undefined;
    // A NonRetryableError (from any copy of the SDK) carries retryable === false.
    return { failure: failure(e.name || "Error", e.message, { stack: e.stack ?? "", retryable: e.retryable !== false }), retryAfterMs };
  }
  return { failure: failure("NonErrorThrown", String(err), { retryable: true }), retryAfterMs: undefined };
}
