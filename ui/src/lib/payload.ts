import type { Payload } from "../api/types.js";

/** A payload as the UI shows it: pretty JSON, text, or a size for binary data. */
export interface ShownPayload {
  kind: "json" | "text" | "binary" | "empty";
  text: string;
  contentType: string;
  bytes: number;
}

function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Decodes a payload for display; never throws (malformed data is shown as binary). */
export function showPayload(p: Payload | undefined): ShownPayload {
  const contentType = p?.contentType || "application/json";
  if (!p?.data) return { kind: "empty", text: "", contentType, bytes: 0 };
  let bytes: Uint8Array;
  try {
    bytes = base64Bytes(p.data);
  } catch {
    return { kind: "binary", text: "", contentType, bytes: 0 };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { kind: "binary", text: "", contentType, bytes: bytes.length };
  }
  if (contentType.includes("json")) {
    try {
      return { kind: "json", text: JSON.stringify(JSON.parse(text), null, 2), contentType, bytes: bytes.length };
    } catch {
      // Declared JSON but is not: show the text as it is.
    }
  }
  return { kind: "text", text, contentType, bytes: bytes.length };
}
