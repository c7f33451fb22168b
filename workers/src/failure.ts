import type { Failure } from "@taskwire/client/gen";

/** Turns anything a task threw into the Failure recorded on the run. */
export function failureOf(err: unknown): { failure: Failure; retryAfterMs: number | undefined } {
  if (err instanceof Error) {
    const e = err as Error & { retryable?: unknown; delayMs?: unknown };
    const retryAfterMs = e.name === "RetryAfterError" && typeof e.delayMs === "number" ? e.delayMs : undefined;
    return {
      failure: {
        type: e.name || "Error",
        message: e.message,
        stack: e.stack ?? "",
        // A NonRetryableError (from any copy of the SDK) carries retryable === false.
        retryable: e.retryable !== false,
      },
      retryAfterMs,
    };
  }
  return { failure: { type: "NonErrorThrown", message: String(err), stack: "", retryable: true }, retryAfterMs: undefined };
}
