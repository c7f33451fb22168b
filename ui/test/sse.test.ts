import assert from "node:assert/strict";
import { SseParser } from "../src/api/sse.js";

describe("ui: server-sent events parser", function () {
  it("reads messages split anywhere across chunks", function () {
    const text = ': taskwire events\n\nid: 12\ndata: {"a":1}\n\nid: 13\ndata: {"b":\ndata: 2}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      const p = new SseParser();
      const got = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      assert.deepEqual(got, [
        { id: "12", event: undefined, data: '{"a":1}' },
        { id: "13", event: undefined, data: '{"b":\n2}' },
      ], `cut at ${cut}`);
    }
  });

  it("takes CRLF and CR line ends, event names, and ignores comments and empty messages", function () {
    const p = new SseParser();
    assert.deepEqual(p.push("event: error\r\ndata: {}\r\n\r\n:keep-alive\r\r\ndata:x\n\n"), [
      { id: undefined, event: "error", data: "{}" },
      { id: undefined, event: undefined, data: "x" },
    ]);
    assert.deepEqual(p.push("id: 5\n\n"), [], "no data: no message");
  });
});
