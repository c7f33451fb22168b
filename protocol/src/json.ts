import { type DescField, type DescMessage, fromJson, type JsonObject, type JsonValue, ScalarType, toBinary } from "@bufbuild/protobuf";
import { protoRegistry } from "./descriptors.js";

/**
 * The proto3 JSON mapping for the JSON API: JSON in, protobuf bytes out,
 * parsed strictly by @bufbuild/protobuf against the descriptors of proto/
 * (unknown fields, wrong types, bad base64, bad timestamps and int64 out of
 * range are refused, each with a message naming the field), so a JSON
 * request is exactly one protobuf request — the bytes a gRPC client would
 * send, decoded by the same deserializer.
 */

/** A JSON body or query that is not a valid `typeName`; the message names the field and the problem. */
export class ProtoJsonError extends Error {
  override readonly name = "ProtoJsonError";
}

function messageDesc(typeName: string): DescMessage {
  const desc = protoRegistry().getMessage(typeName);
  if (!desc) throw new Error(`unknown message type ${typeName}`);
  return desc;
}

/** Encodes `json` (proto3 JSON: lowerCamelCase or proto field names) as the protobuf bytes of `typeName`. */
export function protoJsonToBinary(typeName: string, json: JsonValue): Uint8Array {
  const desc = messageDesc(typeName);
  try {
    return toBinary(desc, fromJson(desc, json));
  } catch (err) {
    throw new ProtoJsonError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/** An enum value given by its full name (RUN_STATE_FAILED), its short name (FAILED, failed) or its number. */
function enumValue(field: DescField & { fieldKind: "enum" | "list" }, raw: string): JsonValue {
  const e = field.enum;
  if (!e) return raw;
  const upper = raw.trim().toUpperCase();
  if (e.values.some((v) => v.name === upper)) return upper;
  const prefix = e.values.find((v) => v.name.endsWith("_UNSPECIFIED"))?.name.replace(/UNSPECIFIED$/, "") ?? "";
  if (prefix && e.values.some((v) => v.name === prefix + upper)) return prefix + upper;
  if (/^-?\d+$/.test(upper)) return Number(upper);
  throw new ProtoJsonError(`${field.name}: "${raw}" is not a ${e.typeName}; use one of ${e.values.map((v) => v.name).join(", ")}`);
}

/** A query value as the JSON value of a scalar or enum field. */
function scalarValue(field: DescField & { fieldKind: "scalar" | "enum" | "list" }, raw: string): JsonValue {
  if (field.enum) return enumValue(field, raw);
  const scalar = "scalar" in field ? field.scalar : undefined;
  // proto3 JSON takes booleans as true/false only; a query string has "true".
  if (scalar === ScalarType.BOOL) {
    if (/^(true|1)$/i.test(raw)) return true;
    if (/^(false|0)$/i.test(raw)) return false;
    throw new ProtoJsonError(`${field.name}: "${raw}" is not a boolean; use true or false`);
  }
  return raw;
}

/**
 * Query parameters as the proto3 JSON object of `typeName` (for GET
 * routes): each parameter names a field (proto or JSON name); a repeated
 * field takes the parameter repeated or one comma-separated value; enums
 * take full names, short names or numbers; numbers and booleans their text.
 * Parameters in `skip` are not fields (handled by the caller). Unknown
 * parameters and message-typed fields are refused.
 */
export function queryToProtoJson(typeName: string, params: URLSearchParams, skip: readonly string[] = []): JsonObject {
  const desc = messageDesc(typeName);
  const out: JsonObject = {};
  for (const key of new Set(params.keys())) {
    if (skip.includes(key)) continue;
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    if (!field) throw new ProtoJsonError(`unknown query parameter "${key}"; ${typeName} has ${desc.fields.map((f) => f.name).join(", ")}`);
    const values = params.getAll(key);
    if (field.fieldKind === "list") {
      if (field.listKind === "message") throw new ProtoJsonError(`${field.name} cannot be given in a query; send a JSON body`);
      out[field.jsonName] = values
        .flatMap((v) => v.split(","))
        .map((v) => v.trim())
        .filter((v) => v.length > 0)
        .map((v) => scalarValue(field, v));
    } else if (field.fieldKind === "scalar" || field.fieldKind === "enum") {
      if (values.length > 1) throw new ProtoJsonError(`${field.name} is given ${values.length} times; it takes one value`);
      out[field.jsonName] = scalarValue(field, values[0] ?? "");
    } else {
      throw new ProtoJsonError(`${field.name} cannot be given in a query; send a JSON body`);
    }
  }
  return out;
}
