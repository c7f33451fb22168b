import { createInbox, Empty, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, NoRespondersError, TimeoutError } from "@nats-io/transport-node";
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
}

export interface PublishOptions {
  /** `Nats-Msg-Id`: JetStream stores a message id once within the stream's dedupe window. */
  msgID?: string;
  /** `Nats-Expected-Last-Subject-Sequence`: compare-and-set against the subject's last sequence (0: the subject must be empty). */
  expectedLastSubjectSeq?: number;
  /** Extra headers (e.g. trace context); the two above are added to them. */
  headers?: MsgHdrs;
}

interface Pending {
  resolve(m: Msg): void;
  reject(err: Error): void;
  subject: string;
  /** performance.now() after which the request times out. */
  deadline: number;
}

const decoder = new TextDecoder();

/** How often pending requests are checked for their timeout, in ms. */
const SWEEP_MS = 100;

/**
 * Request/reply for the hot path's JetStream operations (publish with ack,
 * KV compare-and-set writes, direct gets) on one wildcard reply
 * subscription.
 *
 * nats.js's `request()` gives each call its own timer and, when the call
 * ends, builds a `RequestError` with a stack trace just to reject an
 * already-settled promise (`RequestOne.cancel()`); in the broker's and
 * workers' profiles that was 8–17 % of busy CPU. Here a call costs a map
 * entry and a publish; one interval timer expires late replies for all of
 * them. The semantics match `js.publish` / `kv.get`: same headers, same
 * `JetStreamApiError`s (so `isWrongLastSequence` and friends work on both),
 * `TimeoutError` after `timeoutMs`, `JetStreamError` on no responders.
 */
export class JsWire {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #pending = new Map<number, Pending>();
  readonly #timeoutMs: number;
  #next = 1;
  #timer: NodeJS.Timeout | undefined;

  constructor(nc: NatsConnection, timeoutMs: number) {
    this.#nc = nc;
    this.#timeoutMs = timeoutMs;
    this.#prefix = `${createInbox()}.`;
    nc.subscribe(`${this.#prefix}*`, {
      callback: (err, msg) => {
        if (err) return;
        const token = Number(msg.subject.slice(this.#prefix.length));
        const p = this.#pending.get(token);
        if (!p) return; // timed out already
        this.#pending.delete(token);
        p.resolve(msg);
      },
    });
  }

  /** Requests in flight (for tests and diagnostics). */
  get pending(): number {
    return this.#pending.size;
  }

  #request(subject: string, data: Uint8Array, headers: MsgHdrs | undefined): Promise<Msg> {
    if (this.#nc.isClosed()) return Promise.reject(new Error("NATS connection is closed"));
    return new Promise<Msg>((resolve, reject) => {
      const token = this.#next++;
      this.#pending.set(token, { resolve, reject, subject, deadline: performance.now() + this.#timeoutMs });
      this.#timer ??= setInterval(() => this.#sweep(), SWEEP_MS).unref();
      try {
        this.#nc.publish(subject, data, headers ? { reply: this.#prefix + token, headers } : { reply: this.#prefix + token });
      } catch (err) {
        this.#pending.delete(token);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  #sweep(): void {
    const now = performance.now();
    // Insertion order is deadline order (one timeout for all calls).
    for (const [token, p] of this.#pending) {
      if (p.deadline > now) break;
      this.#pending.delete(token);
      p.reject(new TimeoutError());
    }
    if (this.#pending.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** A JetStream publish, resolved with its ack once the message is stored. */
  async publish(subject: string, data: Uint8Array, opts: PublishOptions = {}): Promise<PubAck> {
    let h = opts.headers;
    if (opts.msgID !== undefined || opts.expectedLastSubjectSeq !== undefined) {
      h ??= natsHeaders();
      if (opts.msgID !== undefined) h.set("Nats-Msg-Id", opts.msgID);
      if (opts.expectedLastSubjectSeq !== undefined) h.set("Nats-Expected-Last-Subject-Sequence", String(opts.expectedLastSubjectSeq));
    }
    const m = await this.#request(subject, data, h);
    if (m.headers && m.headers.code === 503) {
      throw new JetStreamError(`no responders for ${subject}: JetStream is not enabled or no stream takes this subject`, { cause: new NoRespondersError(subject) });
    }
    const v = JSON.parse(decoder.decode(m.data)) as { stream?: string; seq?: number; duplicate?: boolean; error?: { code: number; err_code: number; description: string } };
    if (v.error) throw new JetStreamApiError(v.error);
    if (!v.stream || typeof v.seq !== "number") throw new Error(`invalid JetStream publish ack for ${subject}`);
    return { stream: v.stream, seq: v.seq, duplicate: v.duplicate === true };
  }

  /**
   * The last message on `subject` in `stream` (a direct get; the stream
   * must allow direct gets, as KV buckets do), or undefined when there is none.
   */
  async getLast(stream: string, subject: string): Promise<StoredMsg | undefined> {
    const m = await this.#request(`$JS.API.DIRECT.GET.${stream}.${subject}`, Empty, undefined);
    const h = m.headers;
    if (h && h.code !== 0) {
      if (h.code === 404) return undefined;
      if (h.code === 503) throw new JetStreamError(`no responders for a direct get on ${stream}: the stream is missing or does not allow direct gets`, { cause: new NoRespondersError(subject) });
      throw new Error(`direct get of ${subject} on ${stream} failed: ${h.code} ${h.description}`);
    }
    return { seq: Number(h?.get("Nats-Sequence") ?? 0), subject: h?.get("Nats-Subject") ?? subject, data: m.data, headers: h };
  }

  /** Fails every call in flight (on close). */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const [token, p] of this.#pending) {
      this.#pending.delete(token);
      p.reject(new Error(`NATS connection closed while waiting for ${p.subject}`));
    }
  }
}
