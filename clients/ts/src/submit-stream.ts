import { type ClientDuplexStream, Metadata, type ServiceError } from "@grpc/grpc-js";
import type { SubmitBatchResponse, SubmitRequest, SubmitStreamRequest, SubmitStreamResponse } from "@taskwire/protocol";
import { Status, TaskwireError } from "./errors.js";
import type { Rpc } from "./rpc.js";

/** An open stream with nothing in flight is ended after this long, in ms (so a process that is done can exit). */
export const SUBMIT_STREAM_IDLE_MS = 200;
/** After a stream failed, Submits go as unary calls for this long at first, in ms, doubling per failure in a row up to 30 s. */
const STREAM_RETRY_MS = 1_000;
const STREAM_RETRY_MAX_MS = 30_000;

/**
 * What became of one message: the broker's answer; its refusal of the
 * message as a whole (`answered`: nothing was enqueued); or no answer (the
 * stream broke, the deadline passed: some items may have been enqueued).
 */
export type StreamOutcome = { ok: true; batch: SubmitBatchResponse } | { ok: false; err: TaskwireError; answered: boolean };

type Call = ClientDuplexStream<SubmitStreamRequest, SubmitStreamResponse>;

interface Pending {
  done(o: StreamOutcome): void;
  timer: NodeJS.Timeout;
  /** The stream it was written to. */
  call: Call;
}

/**
 * The client's end of `TaskService.SubmitStream`: one long-lived stream per
 * client over which each coalesced turn of Submits travels as one message
 * (an independent batch) and is answered by id. A unary call costs both
 * ends an HTTP/2 stream with its headers and trailers; a message on an open
 * stream does not (at 1,000 Submits/s: 0.12 against 0.29–0.38 ms of client
 * CPU per call, docs/performance.md). Opened on first use, ended when idle
 * for SUBMIT_STREAM_IDLE_MS. A broker without SubmitStream (UNIMPLEMENTED)
 * turns it off for the client's life; a stream that breaks, or leaves a
 * message unanswered for callTimeoutMs (it is then cancelled), turns it off
 * for a backoff (1 s, doubling to 30 s) while Submits go as unary calls.
 */
export class SubmitStreamChannel {
  #call: Call | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #unsupported = false;
  #failures = 0;
  #retryAt = 0;
  #idle: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(readonly rpc: Rpc) {}

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the next message may go over the stream (else: unary calls). */
  get usable(): boolean {
    return !this.#closed && !this.#unsupported && (this.#failures === 0 || Date.now() >= this.#retryAt);
  }

  /** Sends `runs` as one message; `done` is called once, with the answer or the reason there is none. */
  send(runs: SubmitRequest[], done: (o: StreamOutcome) => void, traceContext: Record<string, string> = {}): void {
    const call = this.#open();
    const id = this.#nextId++;
    const timer = setTimeout(() => this.#unanswered(call, id), this.rpc.callTimeoutMs);
    this.#pending.set(id, { done, timer, call });
    this.#clearIdle();
    call.write({ id, batch: { runs, independent: true }, traceContext });
  }

  /** Ends the stream (the broker answers what it holds first) and takes no more messages. */
  close(): void {
    this.#closed = true;
    this.#clearIdle();
    this.#call?.end();
    this.#call = undefined;
  }

  #clearIdle(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = undefined;
  }

  #open(): Call {
    if (this.#call) return this.#call;
    // The token only: the stream outlives any one caller's trace (traced
    // Submits go as unary calls, each with its own context).
    const md = new Metadata();
    if (this.rpc.token) md.set("authorization", `Bearer ${this.rpc.token}`);
    const call = this.rpc.raw.submitStream(md);
    this.#call = call;
    call.on("data", (res: SubmitStreamResponse) => {
      this.#failures = 0;
      this.#settle(
        res.id,
        res.code === Status.OK && res.batch ? { ok: true, batch: res.batch } : { ok: false, err: new TaskwireError(res.code || Status.INTERNAL, res.message || "broker answered a SubmitStream message without its batch"), answered: true },
      );
    });
    call.on("error", (err: ServiceError) => this.#ended(call, TaskwireError.from(err)));
    // A stream the broker ended with OK after our half-close: nothing is in flight.
    call.on("end", () => this.#ended(call, new TaskwireError(Status.UNAVAILABLE, "SubmitStream ended by the broker")));
    return call;
  }

  #settle(id: number, o: StreamOutcome): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (this.#pending.size === 0 && this.#call && !this.#idle) {
      const call = this.#call;
      this.#idle = setTimeout(() => {
        this.#idle = undefined;
        if (this.#call === call && this.#pending.size === 0) {
          this.#call = undefined;
          call.end();
        }
      }, SUBMIT_STREAM_IDLE_MS);
    }
    p.done(o);
  }

  /**
   * A message got no answer within callTimeoutMs: a stream that stopped
   * answering counts as broken. It is cancelled (its other messages go
   * again as unary calls, see `#ended`) and the next ones go as unary calls
   * for the backoff.
   */
  #unanswered(call: Call, id: number): void {
    this.#settle(id, { ok: false, err: new TaskwireError(Status.DEADLINE_EXCEEDED, `SubmitStream: no answer within ${this.rpc.callTimeoutMs} ms (callTimeoutMs)`), answered: false });
    if (this.#call !== call) return;
    this.#call = undefined;
    this.#clearIdle();
    this.#failed();
    call.cancel();
  }

  /** One more stream failure in a row: unary calls for 1 s, doubling up to 30 s. */
  #failed(): void {
    this.#failures++;
    this.#retryAt = Date.now() + Math.min(STREAM_RETRY_MAX_MS, STREAM_RETRY_MS * 2 ** (this.#failures - 1));
  }

  #ended(call: Call, err: TaskwireError): void {
    if (this.#call === call) {
      this.#call = undefined;
      this.#clearIdle();
    }
    const lost = [...this.#pending].filter(([, p]) => p.call === call).map(([id]) => id);
    if (lost.length === 0) return;
    if (err.code === Status.UNIMPLEMENTED) this.#unsupported = true;
    else if (!this.#closed && err.code !== Status.CANCELLED) this.#failed();
    for (const id of lost) this.#settle(id, { ok: false, err, answered: false });
  }
}
