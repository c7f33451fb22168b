import type { Payload } from "@taskwire/protocol";
import { Status, TaskwireError } from "./errors.js";

export const JSON_CONTENT_TYPE = "application/json";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes positional arguments as the JSON array a worker in any language expects. */
export function encodeArgs(args: readonly unknown[]): Payload {
  return encodeJson(args);
}

export function encodeJson(value: unknown): Payload {
  const text = JSON.stringify(value === undefined ? null : value);
  return { contentType: JSON_CONTENT_TYPE, data: Buffer.from(text, "utf8") };
}

/** Decodes a JSON payload; an empty payload decodes as `undefined`. */
export function decodeJson(p: Payload | undefined): unknown {
  if (!p || p.data.length === 0) return undefined;
  const ct = p.contentType || JSON_CONTENT_TYPE;
  if (ct !== JSON_CONTENT_TYPE) {
    throw new TaskwireError(Status.FAILED_PRECONDITION, `payload has content type ${ct}; only ${JSON_CONTENT_TYPE} decodes to a value — read payload.data for the raw bytes`);
  }
  return JSON.parse(decoder.decode(p.data));
}

/**
 * Decodes run arguments into a positional list: a JSON array is the list of
 * arguments; any other JSON value is the single argument.
 */
export function decodeArgs(p: Payload | undefined): unknown[] {
  const v = decodeJson(p);
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}
