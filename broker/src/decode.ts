import type { ServiceDefinition } from "@grpc/grpc-js";

const DECODE_ERROR = Symbol("taskwire.decodeError");

/**
 * The service definition with every request deserializer guarded: a request
 * that does not decode (for example an int64 above 2^53, which the generated
 * code cannot represent as a number) becomes a marker the handler answers
 * with INVALID_ARGUMENT, instead of grpc-js's INTERNAL "Error deserializing
 * request".
 */
export function guardDeserializers<T extends ServiceDefinition>(def: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(def)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (buf: Buffer): unknown => {
        try {
          return decode(buf);
        } catch (err) {
          return { [DECODE_ERROR]: err instanceof Error ? err.message : String(err) };
        }
      },
    };
  }
  return out as T;
}

/** Why the request did not decode, if it did not. */
export function decodeErrorOf(request: unknown): string | undefined {
  if (request === null || typeof request !== "object" || !(DECODE_ERROR in request)) return undefined;
  return String((request as Record<typeof DECODE_ERROR, unknown>)[DECODE_ERROR]);
}
