import { type ServiceError, status as Status } from "@grpc/grpc-js";
import type { Failure } from "@taskwire/protocol";

export { Status };

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === "number" && "metadata" in err;
}

/**
 * Base error of the SDK. `code` is the gRPC status code of the failure
 * (`Status.NOT_FOUND`, `Status.INVALID_ARGUMENT`, …); the message says what
 * was wrong and how to fix it, as the broker wrote it.
 */
export class TaskwireError extends Error {
  override name = "TaskwireError";
  constructor(
    readonly code: Status,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** Normalises anything thrown at the SDK boundary into a TaskwireError. */
  static from(err: unknown): TaskwireError {
    if (err instanceof TaskwireError) return err;
    if (isServiceError(err)) return new TaskwireError(err.code, err.details || err.message, { cause: err });
    if (err instanceof Error && err.name === "AbortError") return new TaskwireError(Status.CANCELLED, "operation aborted", { cause: err });
    const message = err instanceof Error ? err.message : String(err);
    return new TaskwireError(Status.UNKNOWN, message, { cause: err });
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof TaskwireError && err.code === Status.NOT_FOUND;
}

export function isInvalidArgument(err: unknown): boolean {
  return err instanceof TaskwireError && err.code === Status.INVALID_ARGUMENT;
}

export function isUnavailable(err: unknown): boolean {
  return err instanceof TaskwireError && err.code === Status.UNAVAILABLE;
}

/** `result()` of a run that ended FAILED. `failure` is the last attempt's error. */
export class RunFailedError extends TaskwireError {
  override name = "RunFailedError";
  constructor(
    readonly runId: string,
    readonly failure: Failure,
  ) {
    super(Status.ABORTED, `run ${runId} failed: ${failure.type}: ${failure.message}`);
  }
}

/** `result()` of a run that ended CANCELLED. */
export class RunCancelledError extends TaskwireError {
  override name = "RunCancelledError";
  constructor(
    readonly runId: string,
    reason: string,
  ) {
    super(Status.CANCELLED, `run ${runId} was cancelled${reason ? `: ${reason}` : ""}`);
  }
}

/** `result({ timeoutMs })` elapsed before the run finished; the run goes on. */
export class ResultTimeoutError extends TaskwireError {
  override name = "ResultTimeoutError";
  constructor(
    readonly runId: string,
    timeoutMs: number,
  ) {
    super(Status.DEADLINE_EXCEEDED, `run ${runId} did not finish within ${timeoutMs} ms; it is still running — call result() again or raise timeoutMs`);
  }
}

/**
 * Thrown by a task to fail its run at once, without the retries its policy
 * would allow (a bad input will not get better by trying again).
 */
export class NonRetryableError extends Error {
  override name = "NonRetryableError";
  readonly retryable = false;
  constructor(message: string, options?: ErrorOptions & { type?: string }) {
    super(message, options);
    if (options?.type) this.name = options.type;
  }
}

/**
 * Thrown by a task to ask for the next attempt after `delayMs` milliseconds
 * (e.g. an upstream answered 429 with Retry-After). Counts as an attempt.
 */
export class RetryAfterError extends Error {
  override name = "RetryAfterError";
  constructor(
    readonly delayMs: number,
    message = `retry requested in ${delayMs} ms`,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
