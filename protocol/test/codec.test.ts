import assert from "node:assert/strict";
import { SubmitResponse, TaskRun } from "@taskwire/protocol";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { decodeRun, decodeRunMessage, encodeRun, encodeRunMessage, encodeSubmitResponse, RecordWriter, runMessageRecord, withoutRevision, withRevision, wrapRunMessage } from "../src/codec.js";

describe("codec", function () {
  it("wrapRunMessage(encodeRun(run)) is byte for byte encodeRunMessage(run), for every length-prefix size", function () {
    // Argument sizes put the encoded run on both sides of the 1-, 2- and
    // 3-byte varint length boundaries (128, 16384).
    for (const size of [0, 1, 60, 100, 127, 200, 16_300, 16_400, 70_000]) {
      const run = TaskRun.fromPartial({ id: `r-${size}`, task: "t", args: { contentType: "application/json", data: Buffer.alloc(size, 7) }, createdAt: new Date(1_700_000_000_123) });
      const wrapped = wrapRunMessage(encodeRun(run));
      assert.deepEqual(Buffer.from(wrapped), Buffer.from(encodeRunMessage(run)), `size ${size}`);
      assert.equal(decodeRunMessage(wrapped)?.id, run.id);
      assert.deepEqual(Buffer.from(runMessageRecord(wrapped) ?? []), Buffer.from(encodeRun(run)), `record bytes, size ${size}`);
    }
  });

  it("encodeRun with its reused writer gives the generated encoder's bytes, after large records and after a throw", function () {
    const fresh = (run: TaskRun): Buffer => Buffer.from(TaskRun.encode(run).finish());
    const runOf = (size: number): TaskRun => TaskRun.fromPartial({ id: `r-${size}`, task: "t", args: { contentType: "application/json", data: Buffer.alloc(size, 3) }, attempt: 1 });
    // Small after large (the writer kept, then replaced past 64 KiB), large after small, and repeats.
    for (const size of [10, 5_000, 10, 70_000, 10, 200_000, 64, 64]) assert.deepEqual(Buffer.from(encodeRun(runOf(size))), fresh(runOf(size)), `size ${size}`);
    // A record that cannot be encoded (a field of the wrong type) throws part-way; the next encoding is not affected.
    const bad = { ...runOf(100), createdAt: "not a date" } as unknown as TaskRun;
    assert.throws(() => encodeRun(bad));
    assert.deepEqual(Buffer.from(encodeRun(runOf(50))), fresh(runOf(50)));
    // The returned bytes are a copy: the next encoding does not change them.
    const first = encodeRun(runOf(20));
    const copy = Buffer.from(first);
    encodeRun(runOf(30));
    assert.deepEqual(Buffer.from(first), copy);
  });

  it("RecordWriter writes every int64 as bufbuild's writer does, on both sides of the int32 range", function () {
    const values: Array<number | string | bigint> = [0, -0, 1, -1, 127, 128, 300, -300, 1_733_155_200, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1, "12345678901234", -9_007_199_254_740_991n, 9_223_372_036_854_775_807n];
    for (const v of values) {
      assert.deepEqual(Buffer.from(new RecordWriter().int64(v).finish()), Buffer.from(new BinaryWriter().int64(v).finish()), `int64 ${String(v)}`);
    }
    assert.throws(() => new RecordWriter().int64(1.5));
    // A record with timestamps and ms options round-trips, far past 2038 too.
    const run = TaskRun.fromPartial({ id: "r", task: "t", createdAt: new Date(1_733_155_200_123), updatedAt: new Date(4_102_444_800_999), options: { timeoutMs: 2 ** 40, cacheTtlMs: 5 } });
    assert.deepEqual(Buffer.from(encodeRun(run)), Buffer.from(TaskRun.encode(run).finish()));
    assert.deepEqual(decodeRun(encodeRun(run)), TaskRun.decode(TaskRun.encode(run).finish()));
  });

  it("runMessageRecord refuses what is not one length-delimited field 1 spanning the message", function () {
    const inner = encodeRun(TaskRun.fromPartial({ id: "r", task: "t" }));
    const wrapped = wrapRunMessage(inner);
    assert.equal(runMessageRecord(new Uint8Array(0)), undefined);
    assert.equal(runMessageRecord(Uint8Array.from([0x12, 0x00])), undefined, "another field");
    assert.equal(runMessageRecord(wrapped.subarray(0, wrapped.length - 1)), undefined, "truncated");
    assert.equal(runMessageRecord(Uint8Array.from([...wrapped, 0x08, 0x01])), undefined, "trailing fields");
    assert.equal(runMessageRecord(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), undefined, "runaway length");
  });

  it("withRevision and encodeSubmitResponse decode to what the generated encoders give", function () {
    for (const revision of [1, 127, 128, 300, 2 ** 31 + 5, 2 ** 40 + 3]) {
      const run = TaskRun.fromPartial({ id: "r", task: "t", args: { contentType: "application/json", data: Buffer.from("[1,2]") }, attempt: 2, createdAt: new Date(1_700_000_000_123) });
      const plain = encodeRun(run);
      const encoded = withRevision(plain, revision);
      assert.deepEqual(Buffer.from(withoutRevision(encoded, revision) ?? []), Buffer.from(plain), `withoutRevision, revision ${revision}`);
      assert.equal(withoutRevision(encoded, revision + 1), undefined, "another revision");
      assert.equal(withoutRevision(plain, revision), undefined, "no revision appended");
      const expected = { ...run, revision };
      assert.deepEqual(decodeRun(encoded), TaskRun.decode(TaskRun.encode(expected).finish()), `revision ${revision}`);
      for (const deduplicated of [false, true]) {
        const got = SubmitResponse.decode(encodeSubmitResponse(encoded, deduplicated));
        assert.deepEqual(got, SubmitResponse.decode(SubmitResponse.encode({ run: expected, deduplicated }).finish()));
        assert.equal(got.run?.revision, revision);
        assert.equal(got.deduplicated, deduplicated);
      }
    }
  });
});
