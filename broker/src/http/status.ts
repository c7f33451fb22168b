import { status as Status } from "@grpc/grpc-js";

/**
 * The HTTP status for a gRPC code, as grpc-gateway maps them
 * (runtime.HTTPStatusFromCode), so tools that know one know the other.
 */
const HTTP_STATUS: Readonly<Record<number, number>> = {
  [Status.OK]: 200,
  [Status.CANCELLED]: 499,
  [Status.UNKNOWN]: 500,
  [Status.INVALID_ARGUMENT]: 400,
  [Status.DEADLINE_EXCEEDED]: 504,
  [Status.NOT_FOUND]: 404,
  [Status.ALREADY_EXISTS]: 409,
  [Status.PERMISSION_DENIED]: 403,
  [Status.UNAUTHENTICATED]: 401,
  [Status.RESOURCE_EXHAUSTED]: 429,
  [Status.FAILED_PRECONDITION]: 400,
  [Status.ABORTED]: 409,
  [Status.OUT_OF_RANGE]: 400,
  [Status.UNIMPLEMENTED]: 501,
  [Status.INTERNAL]: 500,
  [Status.UNAVAILABLE]: 503,
  [Status.DATA_LOSS]: 500,
};

export function httpStatusOf(code: number | undefined): number {
  return HTTP_STATUS[code ?? Status.UNKNOWN] ?? 500;
}

/** The JSON API's error body: the gRPC code (a number, as grpc-gateway writes it) and the message. */
export interface ErrorBody {
  code: number;
  message: string;
}
