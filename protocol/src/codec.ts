import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { RunMessage, TaskRun } from "./gen/index.js";

/**
 * A writer whose `int64` takes the `int32` path for values in int32 range:
 * protobuf encodes both as the varint of the 64-bit two's complement, so the
 * bytes are the same, without bufbuild's BigInt and DataView round trip
 * for every number (each timestamp's seconds and every ms option are
 * int64s: 2 % of a busy worker's CPU and of what it allocates).
 */
export class RecordWriter extends BinaryWriter {
  override int64(value: string | number | bigint): this {
    if (typeof value === "number" && (value | 0) === value) return this.int32(value);
    return super.int64(value);
  }
}

/** An encoding longer than this does not keep its writer's buffer for the next one, in bytes. */
const REUSE_MAX_BYTES = 64 * 1024;

/**
 * One writer for every record encoded in this process (encoding is
 * synchronous, and `finish()` hands back a copy and resets the writer): its
 * buffer grows once to a record's size instead of from 128 bytes in four
 * doublings for every record, which was the worker's largest allocation
 * per run. After an unusually large record (or a throw mid-encoding) the
 * writer is replaced, so it neither holds a large buffer nor stale bytes.
 */
let shared: BinaryWriter = new RecordWriter();

function encodeShared(encode: (w: BinaryWriter) => BinaryWriter): Uint8Array {
  const w = shared;
  let out: Uint8Array | undefined;
  try {
    out = encode(w).finish();
    return out;
  } finally {
    if (!out || out.length > REUSE_MAX_BYTES) shared = new RecordWriter();
  }
}

export function encodeRun(run: TaskRun): Uint8Array {
  return encodeShared((w) => TaskRun.encode(run, w));
}

export function decodeRun(data: Uint8Array): TaskRun {
  return TaskRun.decode(data);
}

export function encodeRunMessage(run: TaskRun): Uint8Array {
  return encodeShared((w) => RunMessage.encode({ run }, w));
}

/**
 * The RunMessage for an already-encoded TaskRun — byte for byte what
 * `encodeRunMessage(run)` gives (field 1, length-delimited) — so Submit
 * encodes a run once for both its record and its message.
 */
export function wrapRunMessage(encodedRun: Uint8Array): Uint8Array {
  return lengthDelimited(encodedRun, 0);
}

/** Field 1 (tag 0x0a) holding `bytes`, with `extra` spare bytes at the end. */
function lengthDelimited(bytes: Uint8Array, extra: number): Uint8Array {
  const len = varint(bytes.length);
  const out = new Uint8Array(1 + len.length + bytes.length + extra);
  out[0] = 0x0a; // field 1, wire type 2
  out.set(len, 1);
  out.set(bytes, 1 + len.length);
  return out;
}

/** A non-negative integer (up to 2^53) as a protobuf varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** TaskRun.revision is field 21, a varint: its tag. */
const REVISION_TAG = varint((21 << 3) | 0);

/**
 * An encoded TaskRun whose revision was 0 (so the field is absent) with the
 * revision set: the field appended at the end, which every protobuf
 * decoder reads as the field's value (fields may come in any order).
 */
export function withRevision(encodedRun: Uint8Array, revision: number): Uint8Array {
  const v = varint(revision);
  const out = new Uint8Array(encodedRun.length + REVISION_TAG.length + v.length);
  out.set(encodedRun, 0);
  out.set(REVISION_TAG, encodedRun.length);
  out.set(v, encodedRun.length + REVISION_TAG.length);
  return out;
}

/**
 * The inverse of `withRevision`: the encoded TaskRun without the revision
 * field appended at its end (as its record was stored, at revision 0's
 * encoding), or undefined when `encodedRun` does not end with exactly that
 * field.
 */
export function withoutRevision(encodedRun: Uint8Array, revision: number): Uint8Array | undefined {
  const suffix = [...REVISION_TAG, ...varint(revision)];
  const start = encodedRun.length - suffix.length;
  if (start < 0 || suffix.some((b, i) => encodedRun[start + i] !== b)) return undefined;
  return encodedRun.subarray(0, start);
}

/**
 * SubmitResponse bytes around an already-encoded TaskRun (field 1) and
 * `deduplicated` (field 2, a bool, omitted when false) — so the broker does
 * not encode a run a second time to answer Submit.
 */
export function encodeSubmitResponse(encodedRun: Uint8Array, deduplicated: boolean): Buffer {
  const out = lengthDelimited(encodedRun, deduplicated ? 2 : 0);
  if (deduplicated) out.set([0x10, 0x01], out.length - 2);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * The encoded TaskRun inside a RunMessage that holds only its run (what
 * `wrapRunMessage` and `encodeRunMessage` give), without decoding it;
 * undefined for any other layout.
 */
export function runMessageRecord(data: Uint8Array): Uint8Array | undefined {
  if (data[0] !== 0x0a) return undefined;
  let len = 0;
  let i = 1;
  for (let shift = 0; i < data.length && shift < 35; shift += 7) {
    const b = data[i++] ?? 0;
    len += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return i + len === data.length ? data.subarray(i) : undefined;
  }
  return undefined;
}

export function decodeRunMessage(data: Uint8Array): TaskRun | undefined {
  return RunMessage.decode(data).run;
}
