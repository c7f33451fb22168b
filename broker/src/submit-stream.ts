import { type Metadata, type ServerDuplexStream, status as Status } from "@grpc/grpc-js";
import type { SubmitBatchResponse, SubmitStreamRequest, SubmitStreamResponse } from "@taskwire/protocol";
import type { Logger } from "pino";
import { decodeErrorOf } from "./decode.js";
import { toServiceError } from "./errors.js";
import { PeerLimits } from "./peer-limits.js";

/**
 * Messages of one SubmitStream handled at once. Beyond it the broker stops
 * reading the stream until one is answered, and HTTP/2 flow control holds
 * the sender: a client cannot queue unbounded work in a broker.
 */
export const SUBMIT_STREAM_WINDOW = 256;
/** Open SubmitStreams per client connection (a client needs one). */
export const SUBMIT_STREAMS_PER_CONNECTION = 16;

/** Handles one message's batch, authorised with the stream's metadata; rejects with the status of the message as a whole. */
export type SubmitStreamHandler = (msg: SubmitStreamRequest, metadata: Metadata) => Promise<SubmitBatchResponse>;

interface OpenStream {
  /** Stops reading, answers what is in flight, then ends the stream with UNAVAILABLE. */
  shutdown(): void;
}

/**
 * `TaskService.SubmitStream`: independent batches over one long-lived
 * stream, each answered by one message with its id. Messages are handled
 * concurrently (up to SUBMIT_STREAM_WINDOW); a message that fails as a
 * whole is answered with its status and the stream stays open. The
 * broker's stop ends every open stream with UNAVAILABLE once the messages
 * it was handling are answered; the client sends what was not answered
 * again.
 */
export class SubmitStreams {
  readonly #open = new Set<OpenStream>();
  #closed = false;
  readonly #perConnection = new PeerLimits("SubmitStream calls", SUBMIT_STREAMS_PER_CONNECTION, `fixed; a client needs one`);

  constructor(
    readonly handle: SubmitStreamHandler,
    /** The broker's count of calls in flight (its stop waits for them). */
    readonly inflight: { count: number },
    readonly log: Logger,
  ) {}

  /** Streams open now. */
  get size(): number {
    return this.#open.size;
  }

  serve(call: ServerDuplexStream<SubmitStreamRequest, SubmitStreamResponse>): void {
    if (this.#closed) {
      call.emit("error", { code: Status.UNAVAILABLE, details: "broker is shutting down; submit to another replica" });
      return;
    }
    let release: () => void;
    try {
      release = this.#perConnection.acquire(call.getPeer());
    } catch (err) {
      const se = toServiceError(err);
      call.emit("error", { code: se.code, details: se.details, message: se.details });
      return;
    }
    let handling = 0;
    /** No more messages are read: the client half-closed, or the broker is stopping. */
    let draining = false;
    let shuttingDown = false;
    let ended = false;
    /** The stream is over for this broker: no more answers, its places given back. */
    const forget = (): void => {
      ended = true;
      draining = true;
      this.#open.delete(stream);
      release();
    };
    const end = (err?: { code: Status; details: string }): void => {
      if (ended) return;
      forget();
      if (err) call.emit("error", { ...err, message: err.details });
      else call.end();
    };
    const maybeEnd = (): void => {
      if (!draining || handling > 0) return;
      end(shuttingDown ? { code: Status.UNAVAILABLE, details: "broker is shutting down; send the unanswered messages again (to another replica)" } : undefined);
    };
    const stream: OpenStream = {
      shutdown: () => {
        shuttingDown = true;
        draining = true;
        call.pause();
        maybeEnd();
      },
    };
    this.#open.add(stream);
    call.on("data", (msg: SubmitStreamRequest) => {
      if (draining || ended) return; // after the broker's stop began: unanswered, so the client sends it again
      const bad = decodeErrorOf(msg);
      if (bad !== undefined) {
        // Its id is unknown, so it cannot be answered: the client is broken.
        draining = true;
        end({ code: Status.INVALID_ARGUMENT, details: `a message does not decode as taskwire.v1.SubmitStreamRequest (${bad}); int64 fields take values up to 2^53−1` });
        return;
      }
      handling++;
      this.inflight.count++;
      if (handling >= SUBMIT_STREAM_WINDOW) call.pause();
      void this.handle(msg, call.metadata)
        .then(
          (batch): SubmitStreamResponse => ({ id: msg.id, batch, code: Status.OK, message: "" }),
          (err: unknown): SubmitStreamResponse => {
            const se = toServiceError(err);
            if (se.code === Status.INTERNAL || se.code === Status.UNAVAILABLE) this.log.warn({ err, method: "SubmitStream" }, se.details);
            return { id: msg.id, batch: undefined, code: se.code ?? Status.INTERNAL, message: se.details ?? "internal error" };
          },
        )
        .then((res) => {
          handling--;
          this.inflight.count--;
          if (!ended) call.write(res);
          if (!draining && handling === SUBMIT_STREAM_WINDOW - 1) call.resume();
          maybeEnd();
        }, (err: unknown) => this.log.error({ err }, "SubmitStream: could not answer a message"));
    });
    // The client half-closed: answer what is in flight, then end with OK.
    call.on("end", () => {
      draining = true;
      maybeEnd();
    });
    call.on("error", forget);
    call.on("cancelled", forget);
  }

  /** The broker is stopping: no new streams; open ones end with UNAVAILABLE once their messages in flight are answered. */
  closeAll(): void {
    this.#closed = true;
    for (const s of [...this.#open]) s.shutdown();
  }
}
