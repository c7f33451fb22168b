import assert from "node:assert/strict";
import { headers, TimeoutError } from "@nats-io/transport-node";
import { JetStreamApiError, JetStreamError } from "@nats-io/jetstream";
import { ensureResources, isWrongLastSequence, JsWire, NatsHandle, RUNS_BUCKET, RUNS_BUCKET_STREAM } from "@taskwire/core";
import { startNats, uniq } from "../helpers/env.js";

describe("JsWire (the hot path's JetStream requests)", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let h: NatsHandle;

  before(async function () {
    nats = await startNats();
    h = await NatsHandle.connect({ servers: nats.url });
    await ensureResources(h);
  });
  after(async function () {
    await h?.close();
    await nats?.cleanup();
  });

  const key = (id: string): string => `$KV.${RUNS_BUCKET}.${id}`;

  /** A core-NATS responder on `subject` that answers `answer` (as JSON) from its `from`-th request on, leaving the earlier ones unanswered (a reply lost with a dying node). */
  async function answering(subject: string, answer: object, from = 1): Promise<{ sub: ReturnType<typeof h.nc.subscribe>; seen: () => number }> {
    let seen = 0;
    const sub = h.nc.subscribe(subject, {
      callback: (_err, msg) => {
        if (++seen >= from) msg.respond(new TextEncoder().encode(JSON.stringify(answer)));
      },
    });
    await h.nc.flush();
    return { sub, seen: () => seen };
  }

  it("writes KV records with compare-and-set that the KV client reads back", async function () {
    const id = uniq("k");
    const first = await h.wire.publish(key(id), new TextEncoder().encode("one"), { expectedLastSubjectSeq: 0 });
    assert.equal(first.stream, RUNS_BUCKET_STREAM);
    const second = await h.wire.publish(key(id), new TextEncoder().encode("two"), { expectedLastSubjectSeq: first.seq });
    assert.ok(second.seq > first.seq);
    const kv = (await ensureResources(h)).runs;
    const e = await kv.get(id);
    assert.equal(e?.string(), "two");
    assert.equal(e?.revision, second.seq);
    const got = await h.wire.getLast(RUNS_BUCKET_STREAM, key(id));
    assert.equal(new TextDecoder().decode(got?.data), "two");
    assert.equal(got?.seq, second.seq);
  });

  it("rejects a lost compare-and-set with the JetStream API error isWrongLastSequence knows", async function () {
    const id = uniq("k");
    const a = await h.wire.publish(key(id), new Uint8Array([1]), { expectedLastSubjectSeq: 0 });
    await h.wire.publish(key(id), new Uint8Array([2]), { expectedLastSubjectSeq: a.seq });
    const stale = h.wire.publish(key(id), new Uint8Array([3]), { expectedLastSubjectSeq: a.seq });
    await assert.rejects(stale, (e: unknown) => e instanceof JetStreamApiError && isWrongLastSequence(e));
    await assert.rejects(h.wire.publish(key(id), new Uint8Array([4]), { expectedLastSubjectSeq: 0 }), (e: unknown) => isWrongLastSequence(e));
    assert.equal(h.wire.pending, 0);
  });

  it("dedupes by message id and reads a missing key as undefined", async function () {
    const id = uniq("k");
    const a = await h.wire.publish(key(id), new Uint8Array([1]), { msgID: id });
    const b = await h.wire.publish(key(id), new Uint8Array([1]), { msgID: id });
    assert.equal(a.duplicate, false);
    assert.equal(b.duplicate, true);
    assert.equal(b.seq, a.seq);
    assert.equal(await h.wire.getLast(RUNS_BUCKET_STREAM, key(uniq("missing"))), undefined);
  });

  it("sends a write's preconditions as the headers nats.js would, and refuses a message id that would end the header", async function () {
    const id = uniq("k");
    const a = await h.wire.publish(key(id), new Uint8Array([1]), { msgID: `${id}@0`, expectedLastSubjectSeq: 0 });
    const stored = await h.wire.getLast(RUNS_BUCKET_STREAM, key(id));
    assert.equal(stored?.seq, a.seq);
    assert.equal(stored?.headers?.get("Nats-Msg-Id"), `${id}@0`);
    assert.equal(stored?.headers?.get("Nats-Expected-Last-Subject-Sequence"), "0");
    // Nothing else of ours: the rest are the headers a direct get adds.
    const directGet = new Set(["Nats-Stream", "Nats-Sequence", "Nats-Subject", "Nats-Time-Stamp", "Nats-Num-Pending", "Nats-Last-Sequence"]);
    assert.deepEqual(stored?.headers?.keys().filter((k) => !directGet.has(k)).sort(), ["Nats-Expected-Last-Subject-Sequence", "Nats-Msg-Id"]);
    // With extra headers, the preconditions join them.
    const extra = headers();
    extra.set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    const b = await h.wire.publish(key(id), new Uint8Array([2]), { expectedLastSubjectSeq: a.seq, headers: extra });
    const again = await h.wire.getLast(RUNS_BUCKET_STREAM, key(id));
    assert.equal(again?.seq, b.seq);
    assert.equal(again?.headers?.get("traceparent"), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert.equal(again?.headers?.get("Nats-Expected-Last-Subject-Sequence"), String(a.seq));
    await assert.rejects(h.wire.publish(key(id), new Uint8Array([3]), { msgID: "x\r\nNats-Expected-Last-Subject-Sequence: 1" }), /invalid|header/i);
    const last = await h.wire.getLast(RUNS_BUCKET_STREAM, key(id));
    assert.equal(last?.seq, b.seq);
    // A compare-and-set alone (every record write; its header written byte by byte): the precondition is the only header, and it holds.
    await assert.rejects(h.wire.publish(key(id), new Uint8Array([4]), { expectedLastSubjectSeq: b.seq - 1 }), /wrong last sequence/i);
    const c = await h.wire.publish(key(id), new Uint8Array([5]), { expectedLastSubjectSeq: b.seq });
    const cas = await h.wire.getLast(RUNS_BUCKET_STREAM, key(id));
    assert.equal(cas?.seq, c.seq);
    assert.deepEqual(cas?.headers?.keys().filter((k) => !directGet.has(k)), ["Nats-Expected-Last-Subject-Sequence"]);
    assert.equal(cas?.headers?.get("Nats-Expected-Last-Subject-Sequence"), String(b.seq));
  });

  it("answers no responders when no stream takes the subject, and times out when nobody replies", async function () {
    await assert.rejects(h.wire.publish(`nowhere.${uniq()}`, new Uint8Array([1])), (e: unknown) => e instanceof JetStreamError && /no responders/.test(e.message));
    // A subscriber that never answers: the request times out after the
    // configured timeout, and its entry is gone.
    const short = new JsWire(h.nc, 300);
    const subject = `silent.${uniq()}`;
    const sub = h.nc.subscribe(subject, { callback: () => undefined });
    await h.nc.flush();
    const t0 = Date.now();
    await assert.rejects(short.publish(subject, new Uint8Array([1])), (e: unknown) => e instanceof TimeoutError);
    const took = Date.now() - t0;
    assert.ok(took >= 290 && took < 2_000, `timed out after ${took} ms`);
    assert.equal(short.pending, 0);
    sub.unsubscribe();
    short.close();
  });

  it("sends a request again when its first attempt gets no reply, and answers with the second's", async function () {
    this.timeout(10_000);
    // A responder that drops the first request (a reply lost with a dying
    // node) and acks the second: the call resends after ATTEMPT_TIMEOUT_MS.
    const subject = `flaky.${uniq()}`;
    const responder = await answering(subject, { stream: "S", seq: 7 }, 2);
    const ack = await h.wire.publish(subject, new Uint8Array([1]));
    assert.deepEqual(ack, { stream: "S", seq: 7, duplicate: false });
    assert.equal(responder.seen(), 2);
    assert.equal(h.wire.pending, 0);
    responder.sub.unsubscribe();
  });

  it("sends a request again while nobody can answer it (no responders), until a responder comes", async function () {
    const subject = `late.${uniq()}`;
    const late = new Promise<Awaited<ReturnType<typeof answering>>>((resolve) => setTimeout(() => resolve(answering(subject, { stream: "S", seq: 9 })), 150));
    const t0 = Date.now();
    const ack = await h.wire.publish(subject, new Uint8Array([1]));
    assert.deepEqual(ack, { stream: "S", seq: 9, duplicate: false });
    assert.ok(Date.now() - t0 >= 140, "answered only once the responder was there");
    (await late).sub.unsubscribe();
  });

  it("marks an error after a resend as ambiguous (the first attempt may have been stored)", async function () {
    this.timeout(10_000);
    const subject = `refusing.${uniq()}`;
    const { sub } = await answering(subject, { error: { code: 400, err_code: 10071, description: "wrong last sequence: 3" } }, 2);
    await assert.rejects(h.wire.publish(subject, new Uint8Array([1]), { expectedLastSubjectSeq: 2 }), (e: unknown) => isWrongLastSequence(e) && (e as { ambiguous?: boolean }).ambiguous === true);
    sub.unsubscribe();
  });
});
