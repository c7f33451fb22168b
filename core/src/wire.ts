import { createInbox, Empty, headers as natsHeaders, type Msg, type MsgHdrs, MsgHdrsImpl, type NatsConnection, NoRespondersError, TimeoutError } from "@nats-io/transport-node";
import { JetStreamApiError, JetStreamError } from "@nats-io/jetstream";

/** What a JetStream publish answered. */
export interface PubAck {
  stream: string;
  /** The stream sequence the message was stored at (for a KV write: the key's new revision). */
  seq: number;
  /** True when the message id was seen inside the dedupe window and nothing was stored. */
  duplicate: boolean;
}

/** One stored message read with a direct get. */
export interface StoredMsg {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  /** When the stream stored it (reads from the leader only). */
  time?: Date;
}

export interface PublishOptions {
  /** `Nats-Msg-Id`: JetStream stores a message id once within the stream's dedupe window. */
  msgID?: string;
  /** `Nats-Expected-Last-Subject-Sequence`: compare-and-set against the subject's last sequence (0: the subject must be empty). */
  expectedLastSubjectSeq?: number;
  /** Extra headers (e.g. trace context); the two above are added to them. */
  headers?: MsgHdrs;
}

/** The answer of `$JS.API.STREAM.MSG.GET` (the stream leader's read). */
interface MsgGetResponse {
  message?: { subject: string; seq: number; hdrs?: string; data?: string; time?: string };
  error?: { code: number; err_code: number; description: string };
}

interface Pending {
  resolve(m: Msg): void;
  reject(err: Error): void;
  subject: string;
  /** performance.now() after which this attempt times out. */
  deadline: number;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const MSG_ID = "Nats-Msg-Id";
const EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence";

/**
 * The headers of a write that carries only JetStream's preconditions (every
 * record write, most publishes), encoded once as NATS puts them on the wire:
 * a publish only asks its headers to `encode()`, and filling a `MsgHdrs`
 * (canonicalised keys, a Map of arrays, then a string) was 2–3 % of a busy
 * worker's CPU and 4 % of what it allocates. `test/integration/wire.test.ts`
 * reads the stored headers back. A message id with CR or LF (it would end
 * the header) is refused with nats.js' own error, as `MsgHdrs.set` does.
 */
class PreconditionHeaders extends MsgHdrsImpl {
  readonly #bytes: Uint8Array;

  constructor(msgID: string | undefined, expectedLastSubjectSeq: number | undefined) {
    super();
    if (msgID === undefined && expectedLastSubjectSeq !== undefined) {
      this.#bytes = expectedSeqHeader(expectedLastSubjectSeq);
      return;
    }
    let s = "NATS/1.0";
    if (msgID !== undefined) s += `\r\n${MSG_ID}: ${MsgHdrsImpl.validHeaderValue(msgID)}`;
    if (expectedLastSubjectSeq !== undefined) s += `\r\n${EXPECTED_LAST_SUBJECT_SEQ}: ${expectedLastSubjectSeq}`;
    this.#bytes = encoder.encode(`${s}\r\n\r\n`);
  }

  override encode(): Uint8Array {
    return this.#bytes;
  }
}

const EXPECTED_SEQ_HEAD = encoder.encode(`NATS/1.0\r\n${EXPECTED_LAST_SUBJECT_SEQ}: `);

/**
 * The headers of a record write (a compare-and-set alone), written byte by
 * byte: the sequence's digits are ASCII, and the string encoder was the
 * worker's second most expensive native call per write.
 */
function expectedSeqHeader(seq: number): Uint8Array {
  const digits = String(seq);
  const head = EXPECTED_SEQ_HEAD;
  const out = new Uint8Array(head.length + digits.length + 4);
  out.set(head);
  let i = head.length;
  for (let k = 0; k < digits.length; k++) out[i++] = digits.charCodeAt(k);
  out.set(CRLF_CRLF, i);
  return out;
}
const CRLF_CRLF = Uint8Array.of(13, 10, 13, 10);

/** How often pending requests are checked for their timeout, in ms. */
const SWEEP_MS = 100;
/**
 * Longest wait for one attempt's reply before it is sent again (within the
 * call's deadline), in ms. A stream whose leader died answers nothing until
 * a new one is elected (seconds); the resent request reaches the new one.
 */
export const ATTEMPT_TIMEOUT_MS = 2_000;
/** First and largest pause before resending a request nobody could answer (no responders: a stream without a leader), in ms. */
const NO_RESPONDERS_BACKOFF_MS = [25, 500] as const;
/** JetStream API error code of "no message found" (a read of a missing key). */
const NO_MESSAGE_FOUND = 10037;

/** The attempt's connection dropped before its reply came: resent after the reconnect. */
class Disconnected extends Error {
  override name = "Disconnected";
}

/**
 * Whether a failed write may nevertheless have been stored: a request was
 * sent and its reply lost (timeout, dropped connection) before the final
 * answer. A compare-and-set that then answers "wrong last sequence" may have
 * lost against its own first attempt.
 */
export function isAmbiguous(err: unknown): boolean {
  return err instanceof Error && (err as { ambiguous?: boolean }).ambiguous === true;
}

function markAmbiguous<E extends Error>(err: E, ambiguous: boolean): E {
  if (ambiguous) Object.assign(err, { ambiguous: true });
  return err;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Headers from the `hdrs` of a STREAM.MSG.GET answer ("NATS/1.0\r\nKey: value\r\n…"), as a MsgHdrs. */
function parseHeaders(b64: string | undefined): MsgHdrs | undefined {
  if (!b64) return undefined;
  const lines = Buffer.from(b64, "base64").toString("utf8").split("\r\n");
  const h = natsHeaders();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) h.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return h;
}

/**
 * Request/reply for the hot path's JetStream operations (publish with ack,
 * KV compare-and-set writes, direct gets, leader reads) on one wildcard
 * reply subscription.
 *
 * nats.js's `request()` gives each call its own timer and, when the call
 * ends, builds a `RequestError` with a stack trace just to reject an
 * already-settled promise (`RequestOne.cancel()`); in the broker's and
 * workers' profiles that was 8–17 % of busy CPU. Here a call costs a map
 * entry and a publish; one interval timer expires late replies for all of
 * them. The semantics match `js.publish` / `kv.get`: same headers, same
 * `JetStreamApiError`s (so `isWrongLastSequence` and friends work on both),
 * `TimeoutError` after `timeoutMs`, `JetStreamError` on no responders.
 *
 * A call survives a NATS node going away: within its deadline (`timeoutMs`)
 * a request is sent again when the connection dropped before the reply
 * (after the reconnect), when nobody answered (a stream between leaders),
 * or when one attempt got no reply in ATTEMPT_TIMEOUT_MS. Every operation
 * here is safe to repeat: publishes carry a message id or a
 * compare-and-set precondition, reads change nothing. An error after such a
 * repeat is marked `isAmbiguous` (the first attempt may have been stored).
 */
export class JsWire {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #pending = new Map<number, Pending>();
  readonly #timeoutMs: number;
  #next = 1;
  #timer: NodeJS.Timeout | undefined;
  #connected = true;
  #reconnected: Array<() => void> = [];
  /**
   * Whether the server checks a compare-and-set only before replicating it
   * (nats-server before 2.10.0; see `casNeedsMsgId`).
   */
  readonly #casPrecheckOnly: boolean;

  constructor(nc: NatsConnection, timeoutMs: number) {
    this.#nc = nc;
    this.#timeoutMs = timeoutMs;
    this.#casPrecheckOnly = versionBelow(nc.info?.version ?? "", [2, 10, 0]);
    this.#prefix = `${createInbox()}.`;
    nc.subscribe(`${this.#prefix}*`, {
      callback: (err, msg) => {
        if (err) return;
        const token = Number(msg.subject.slice(this.#prefix.length));
        const p = this.#pending.get(token);
        if (!p) return; // timed out already, or a reply to an attempt sent again since
        this.#pending.delete(token);
        p.resolve(msg);
      },
    });
  }

  /**
   * True when compare-and-set writes need a message id to be atomic. On a
   * replicated stream, nats-server before 2.10.0 checks
   * `Nats-Expected-Last-Subject-Sequence` against its stored messages
   * before it replicates a write, not when it applies it: two writes
   * against the same revision that arrive before the first is applied are
   * both stored (measured on 2.9.10: 219 of 300 pairs sent at once through
   * two nodes; 0 on 2.15.1). Its duplicate check is done when the write is
   * proposed, so a message id naming the key and the expected revision
   * makes the second one a duplicate instead (fixed upstream in 2.10.0,
   * nats-server commit e1a00a8).
   */
  get casNeedsMsgId(): boolean {
    return this.#casPrecheckOnly;
  }

  /** Requests in flight (for tests and diagnostics). */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Told by the connection when it drops and comes back. On a drop, the
   * replies of requests in flight are lost with the socket: they fail over
   * to a resend once connected again.
   */
  setConnected(connected: boolean): void {
    this.#connected = connected;
    if (!connected) {
      for (const [token, p] of this.#pending) {
        this.#pending.delete(token);
        p.reject(new Disconnected(`connection dropped while waiting for ${p.subject}`));
      }
      return;
    }
    const waiting = this.#reconnected;
    this.#reconnected = [];
    for (const wake of waiting) wake();
  }

  /** Resolves true once connected, false if `ms` pass first. */
  async #whenConnected(ms: number): Promise<boolean> {
    if (this.#connected) return true;
    let timer: NodeJS.Timeout | undefined;
    const ok = await new Promise<boolean>((resolve) => {
      this.#reconnected.push(() => resolve(true));
      timer = setTimeout(() => resolve(false), ms);
    });
    clearTimeout(timer);
    return ok;
  }

  /**
   * One attempt: publishes with a fresh reply token; `onReply` gets the
   * reply, `onError` a failure to send or a timeout at `attemptMs` (no
   * promise of its own).
   */
  #send(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, attemptMs: number, onReply: (m: Msg) => void, onError: (err: Error) => void): void {
    if (this.#nc.isClosed()) {
      onError(new Error("NATS connection is closed"));
      return;
    }
    const token = this.#next++;
    // Map order is deadline order only for one attempt length; the sweep checks every entry.
    this.#pending.set(token, { resolve: onReply, reject: onError, subject, deadline: performance.now() + attemptMs });
    this.#timer ??= setInterval(() => this.#sweep(), SWEEP_MS).unref();
    try {
      this.#nc.publish(subject, data, headers ? { reply: this.#prefix + token, headers } : { reply: this.#prefix + token });
    } catch (err) {
      this.#pending.delete(token);
      onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** One attempt as a promise: resolves with the reply, rejects at `attemptMs`. */
  #request(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, attemptMs: number): Promise<Msg> {
    return new Promise<Msg>((resolve, reject) => this.#send(subject, data, headers, attemptMs, resolve, reject));
  }

  #sweep(): void {
    const now = performance.now();
    for (const [token, p] of this.#pending) {
      if (p.deadline > now) continue;
      this.#pending.delete(token);
      p.reject(new TimeoutError());
    }
    if (this.#pending.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /**
   * A request sent until it is answered or the call's deadline passes (see
   * the class comment), its answer turned into the result by `read`
   * (`ambiguous`: an earlier attempt may have been applied). `retryable(m)`
   * says whether an answer is a temporary refusal worth sending again (e.g.
   * no responders). The common case — connected, answered at the first
   * attempt — costs this one promise; everything else goes on in `#retry`.
   */
  #call<T>(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, retryable: (m: Msg) => boolean, read: (m: Msg, ambiguous: boolean, subject: string) => T): Promise<T> {
    const deadline = performance.now() + this.#timeoutMs;
    const retry = (ambiguous: boolean, refused: Msg | undefined): Promise<T> => this.#retry(subject, data, headers, retryable, deadline, ambiguous, refused).then((r) => read(r.m, r.ambiguous, subject));
    if (!this.#connected) return retry(false, undefined);
    return new Promise<T>((resolve, reject) => {
      this.#send(
        subject,
        data,
        headers,
        Math.min(this.#timeoutMs, ATTEMPT_TIMEOUT_MS),
        (m) => {
          if (retryable(m) && performance.now() + NO_RESPONDERS_BACKOFF_MS[0] < deadline) {
            retry(false, m).then(resolve, reject);
            return;
          }
          try {
            resolve(read(m, false, subject));
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        },
        (err) => {
          if (err instanceof Disconnected || err instanceof TimeoutError) retry(true, undefined).then(resolve, reject);
          else reject(err);
        },
      );
    });
  }

  /**
   * `#call` after its first attempt: resends until answered or the deadline
   * passes. `refused`: the first attempt's answer was a temporary refusal
   * (pause, then resend); `ambiguous`: it may have been applied.
   */
  async #retry(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, retryable: (m: Msg) => boolean, deadline: number, ambiguous: boolean, refused: Msg | undefined): Promise<{ m: Msg; ambiguous: boolean }> {
    let backoff: number = NO_RESPONDERS_BACKOFF_MS[0];
    if (refused) {
      await sleep(backoff);
      backoff = Math.min(backoff * 2, NO_RESPONDERS_BACKOFF_MS[1]);
    }
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0 && refused) return { m: refused, ambiguous };
      if (left <= 0) throw markAmbiguous(new TimeoutError(), ambiguous);
      if (!this.#connected && !(await this.#whenConnected(left))) throw markAmbiguous(new TimeoutError(), ambiguous);
      let m: Msg;
      try {
        m = await this.#request(subject, data, headers, Math.min(deadline - performance.now(), ATTEMPT_TIMEOUT_MS));
      } catch (err) {
        if (err instanceof Disconnected || err instanceof TimeoutError) {
          ambiguous = true;
          continue;
        }
        throw markAmbiguous(err instanceof Error ? err : new Error(String(err)), ambiguous);
      }
      if (retryable(m) && performance.now() + backoff < deadline) {
        refused = m;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, NO_RESPONDERS_BACKOFF_MS[1]);
        continue;
      }
      return { m, ambiguous };
    }
  }

  /** A JetStream publish, resolved with its ack once the message is stored. */
  publish(subject: string, data: Uint8Array, opts: PublishOptions = {}): Promise<PubAck> {
    let h = opts.headers;
    try {
      if (opts.msgID !== undefined || opts.expectedLastSubjectSeq !== undefined) {
        if (!h) {
          h = new PreconditionHeaders(opts.msgID, opts.expectedLastSubjectSeq);
        } else {
          if (opts.msgID !== undefined) h.set(MSG_ID, opts.msgID);
          if (opts.expectedLastSubjectSeq !== undefined) h.set(EXPECTED_LAST_SUBJECT_SEQ, String(opts.expectedLastSubjectSeq));
        }
      }
    } catch (err) {
      return Promise.reject(err as Error); // a bad message id: refused as a rejection, like every other failure
    }
    return this.#call(subject, data, h, isPubRefusal, readPubAck);
  }

  /**
   * The last message on `subject` in `stream` (a direct get; the stream
   * must allow direct gets, as KV buckets do), or undefined when there is none.
   *
   * Any replica answers a direct get, and a follower can be behind the
   * leader (a node that was just restarted by seconds): the answer may be
   * an older revision, or none. Use `getLastFromLeader` where that matters.
   */
  getLast(stream: string, subject: string): Promise<StoredMsg | undefined> {
    return this.#call(`$JS.API.DIRECT.GET.${stream}.${subject}`, Empty, undefined, isNoResponders, (m) => {
      const h = m.headers;
      if (h && h.code !== 0) {
        if (h.code === 404) return undefined;
        if (h.code === 503) throw new JetStreamError(`no responders for a direct get on ${stream}: the stream is missing or does not allow direct gets`, { cause: new NoRespondersError(subject) });
        throw new Error(`direct get of ${subject} on ${stream} failed: ${h.code} ${h.description}`);
      }
      return { seq: Number(h?.get("Nats-Sequence") ?? 0), subject: h?.get("Nats-Subject") ?? subject, data: m.data, headers: h };
    });
  }

  /**
   * A direct get by sequence (`$JS.API.DIRECT.GET.<stream>` with a JSON
   * request, nats-server ≥ 2.9): the message at `seq`, or with
   * `nextBySubject` the first one at or after `seq` whose subject matches
   * that filter (wildcards allowed); undefined when there is none. Any
   * replica answers (see `getLast`). `storedAt` is when the stream stored
   * the message (ms since the epoch, the server's clock).
   */
  getBySeq(stream: string, seq: number, nextBySubject?: string): Promise<(StoredMsg & { storedAt: number }) | undefined> {
    const req = nextBySubject ? { seq, next_by_subj: nextBySubject } : { seq };
    return this.#call(`$JS.API.DIRECT.GET.${stream}`, encoder.encode(JSON.stringify(req)), undefined, isNoResponders, (m) => {
      const h = m.headers;
      if (h && h.code !== 0) {
        if (h.code === 404) return undefined;
        if (h.code === 503) throw new JetStreamError(`no responders for a direct get on ${stream}: the stream is missing or does not allow direct gets`, { cause: new NoRespondersError(stream) });
        throw new Error(`direct get of sequence ${seq} on ${stream} failed: ${h.code} ${h.description}`);
      }
      const stamp = h?.get("Nats-Time-Stamp");
      return { seq: Number(h?.get("Nats-Sequence") ?? 0), subject: h?.get("Nats-Subject") ?? "", data: m.data, headers: h, storedAt: stamp ? Date.parse(stamp) : 0 };
    });
  }

  /**
   * The last message on `subject` as the stream's leader has it
   * (`$JS.API.STREAM.MSG.GET`): it includes every acknowledged write, which
   * a direct get served by a lagging follower may not.
   */
  getLastFromLeader(stream: string, subject: string): Promise<StoredMsg | undefined> {
    return this.#msgGet(stream, { last_by_subj: subject });
  }

  /** The first message on `subject` at or after stream sequence `seq`, from the stream's leader. */
  getNextFromLeader(stream: string, subject: string, seq: number): Promise<StoredMsg | undefined> {
    return this.#msgGet(stream, { seq, next_by_subj: subject });
  }

  #msgGet(stream: string, req: Record<string, string | number>): Promise<StoredMsg | undefined> {
    return this.#call(`$JS.API.STREAM.MSG.GET.${stream}`, encoder.encode(JSON.stringify(req)), undefined, isApiRefusal, (m) => {
      if (m.headers?.code === 503) throw new JetStreamError(`no responders for a read of ${stream}: JetStream is not enabled or the stream has no leader`, { cause: new NoRespondersError(stream) });
      const v = JSON.parse(decoder.decode(m.data)) as MsgGetResponse;
      if (v.error) {
        if (v.error.err_code === NO_MESSAGE_FOUND) return undefined;
        throw new JetStreamApiError(v.error);
      }
      if (!v.message) throw new Error(`invalid answer to a read of ${stream}`);
      const { subject, seq, hdrs, data, time } = v.message;
      return { seq, subject, data: data ? Buffer.from(data, "base64") : new Uint8Array(0), headers: parseHeaders(hdrs), time: time ? new Date(time) : undefined };
    });
  }

  /** Fails every call in flight (on close). */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const [token, p] of this.#pending) {
      this.#pending.delete(token);
      p.reject(new Error(`NATS connection closed while waiting for ${p.subject}`));
    }
    this.setConnected(true); // wake waiters; their next attempt sees the closed connection
  }
}

/** Whether version "a.b.c…" is below `min` (false when it cannot be read). */
function versionBelow(version: string, min: readonly [number, number, number]): boolean {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const v = [Number(m[1]), Number(m[2]), Number(m[3])];
  for (let i = 0; i < 3; i++) {
    if ((v[i] ?? 0) !== min[i]) return (v[i] ?? 0) < min[i];
  }
  return false;
}

/** No responders: nobody serves the subject now (a stream between leaders, JetStream starting). */
function isNoResponders(m: Msg): boolean {
  return m.headers?.code === 503;
}

/** No responders, or a JetStream API error 503 (temporarily unavailable): worth sending again. */
function isApiRefusal(m: Msg): boolean {
  return m.headers?.code === 503 || apiErrorCode(m) === 503;
}

const ACK_HEAD = encoder.encode('{"stream":"');
const ACK_SEQ = encoder.encode('","seq":');
const ACK_DUPLICATE_END = encoder.encode(',"duplicate":true}');
/** The last answer `fastPubAck` read (a publish's answer is read twice in a row: is it a refusal, then the ack). */
let fastFor: Msg | undefined;
let fastAck: PubAck | undefined;

/**
 * The common publish answer, `{"stream":"<name>","seq":<n>}` (optionally
 * `,"duplicate":true` before the brace), read from its bytes: no UTF-8
 * decoding and no JSON.parse (they were 3 % of a busy worker's CPU, done
 * twice per write with the refusal check). Anything else (an error, a
 * domain, a name that is not plain ASCII) is undefined and read as JSON.
 */
export function fastPubAck(m: Msg): PubAck | undefined {
  if (fastFor === m) return fastAck;
  fastFor = m;
  fastAck = undefined;
  const d = m.data;
  if (m.headers || !startsAt(d, ACK_HEAD, 0)) return undefined;
  const nameFrom = ACK_HEAD.length;
  let i = nameFrom;
  for (; i < d.length; i++) {
    const c = d[i] as number;
    if (c === 0x22) break; // "
    if (c < 0x20 || c >= 0x7f || c === 0x5c) return undefined; // control, non-ASCII, backslash
  }
  if (i === nameFrom || !startsAt(d, ACK_SEQ, i)) return undefined;
  const stream = streamName(d, nameFrom, i);
  i += ACK_SEQ.length;
  let seq = 0;
  const digitsFrom = i;
  for (; i < d.length && (d[i] as number) >= 0x30 && (d[i] as number) <= 0x39; i++) seq = seq * 10 + ((d[i] as number) - 0x30);
  if (i === digitsFrom || i - digitsFrom > 15) return undefined;
  let duplicate = false;
  if (i === d.length - 1 && d[i] === 0x7d) duplicate = false;
  else if (i === d.length - ACK_DUPLICATE_END.length && startsAt(d, ACK_DUPLICATE_END, i)) duplicate = true;
  else return undefined;
  fastAck = { stream, seq, duplicate };
  return fastAck;
}

/** The last stream name read, as bytes and as a string: most answers name the stream the one before named. */
let lastName = { bytes: new Uint8Array(0), name: "" };
function streamName(d: Uint8Array, from: number, to: number): string {
  const { bytes, name } = lastName;
  if (bytes.length === to - from && startsAt(d, bytes, from)) return name;
  lastName = { bytes: d.slice(from, to), name: decoder.decode(d.subarray(from, to)) };
  return lastName.name;
}

function startsAt(d: Uint8Array, prefix: Uint8Array, at: number): boolean {
  if (d.length < at + prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) if (d[at + k] !== prefix[k]) return false;
  return true;
}

/** `isApiRefusal` for a publish's answer: the common ack is none. */
function isPubRefusal(m: Msg): boolean {
  return fastPubAck(m) === undefined && isApiRefusal(m);
}

/** A publish's answer as its ack; JetStream's refusal as its error. */
function readPubAck(m: Msg, ambiguous: boolean, subject: string): PubAck {
  const fast = fastPubAck(m);
  if (fast) return fast;
  if (m.headers && m.headers.code === 503) {
    throw markAmbiguous(new JetStreamError(`no responders for ${subject}: JetStream is not enabled or no stream takes this subject`, { cause: new NoRespondersError(subject) }), ambiguous);
  }
  const v = JSON.parse(decoder.decode(m.data)) as { stream?: string; seq?: number; duplicate?: boolean; error?: { code: number; err_code: number; description: string } };
  if (v.error) throw markAmbiguous(new JetStreamApiError(v.error), ambiguous);
  if (!v.stream || typeof v.seq !== "number") throw new Error(`invalid JetStream publish ack for ${subject}`);
  return { stream: v.stream, seq: v.seq, duplicate: v.duplicate === true };
}

/** The JetStream API error code in a JSON answer, if it is one (cheap check before parsing). */
function apiErrorCode(m: Msg): number | undefined {
  if (m.data.length === 0 || m.data.length > 512) return undefined;
  const s = decoder.decode(m.data);
  if (!s.includes('"error"')) return undefined;
  try {
    return (JSON.parse(s) as { error?: { code?: number } }).error?.code;
  } catch {
    return undefined;
  }
}
