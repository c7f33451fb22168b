import { Metadata, type ServiceError, status as Status } from "@grpc/grpc-js";

/** An error the broker answers with; mapped to a gRPC status once, at the edge. */
export class BrokerError extends Error {
  override readonly name = "BrokerError";
  constructor(
    readonly code: Status,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  static invalid(field: string, problem: string): BrokerError {
    return new BrokerError(Status.INVALID_ARGUMENT, `${field}: ${problem}`);
  }

  static unavailable(detail = ""): BrokerError {
    return new BrokerError(Status.UNAVAILABLE, `NATS is unreachable${detail ? ` (${detail})` : ""}; the broker reconnects by itself — retry the call (use an idempotency key to make Submit safe to retry)`);
  }
}

function looksLikeNatsOutage(err: Error): boolean {
  // A JetStream API error with status 503 is the cluster saying it cannot
  // serve now ("JetStream system temporarily unavailable" while a stream
  // or the meta group elects a leader): retryable, never the caller's fault.
  if ((err as { status?: unknown }).status === 503) return true;
  // "jetstream is not enabled" is how nats.js reports a publish nobody
  // answered: JetStream down, or the stream missing. "duplicate message id
  // is in process" (409) is a stream still deciding an earlier publish of
  // the same message id, e.g. one resent while a NATS node was lost.
  return /timeout|TIMEOUT|disconnect|closed|CONNECTION|no responders|503|jetstream is not enabled|temporarily unavailable|duplicate message id is in process/i.test(`${err.name} ${err.message} ${(err as { code?: unknown }).code ?? ""}`);
}

/** Normalises any error thrown inside a handler into a gRPC ServiceError. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  let e: BrokerError;
  if (err instanceof BrokerError) e = err;
  else if (err instanceof Error && looksLikeNatsOutage(err)) e = BrokerError.unavailable(err.message);
  else e = new BrokerError(Status.INTERNAL, `internal error: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  return { code: e.code, details: e.message, message: e.message, metadata: new Metadata() };
}
