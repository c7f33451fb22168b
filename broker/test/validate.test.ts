import assert from "node:assert/strict";
import { SubmitRequest } from "@taskwire/protocol";
import { parseCursor, validateSubmit } from "../src/validate.js";

const json = (v: unknown) => ({ contentType: "application/json", data: Buffer.from(JSON.stringify(v)) });

describe("request validation", function () {
  it("accepts a minimal submit and fills the default queue", function () {
    const v = validateSubmit(SubmitRequest.fromPartial({ task: "send-email", args: json(["a@b.c"]) }), 1024);
    assert.equal(v.queue, "default");
    assert.ok(Math.abs(v.dueAt - Date.now()) < 1_000);
  });

  it("treats empty args as an empty argument list", function () {
    const v = validateSubmit(SubmitRequest.fromPartial({ task: "t" }), 1024);
    assert.equal(Buffer.from(v.args.data).toString(), "[]");
  });

  it("lets non-JSON content types through unparsed", function () {
    const v = validateSubmit(SubmitRequest.fromPartial({ task: "t", args: { contentType: "application/octet-stream", data: Buffer.from([0xff, 0x00]) } }), 1024);
    assert.equal(v.args.contentType, "application/octet-stream");
  });

  it("names the field in every error", function () {
    const cases: Array<[Partial<SubmitRequest>, RegExp]> = [
      [{ task: "a.b" }, /^task: /],
      [{ task: "t", args: { contentType: "", data: Buffer.from("[1,") } }, /^args: .*not valid JSON/],
      [{ task: "t", options: { retry: { maxRetries: 101 } } as never }, /^options\.retry\.max_retries: must be 0–100/],
      [{ task: "t", options: { retry: { maxRetries: 1, jitter: 2 } } as never }, /^options\.retry\.jitter/],
      [{ task: "t", options: { idempotencyKey: "k".repeat(300) } as never }, /^options\.idempotency_key/],
    ];
    for (const [req, re] of cases) assert.throws(() => validateSubmit(SubmitRequest.fromPartial(req), 1024), (e: Error) => re.test(e.message));
  });

  it("parses cursors strictly", function () {
    assert.equal(parseCursor(""), 0);
    assert.equal(parseCursor("42"), 42);
    for (const bad of ["0", "-1", "1.5", "abc", "01", "99999999999999999"]) assert.throws(() => parseCursor(bad), (e: Error) => e.message.startsWith("after_cursor"));
  });
});
