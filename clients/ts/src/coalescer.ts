import { context as otContext, ProxyTracerProvider, trace } from "@opentelemetry/api";
import type { SubmitBatchRequest, SubmitBatchResponse, SubmitRequest, SubmitResponse, TaskRun } from "@taskwire/protocol";
import { Status, TaskwireError } from "./errors.js";
import { isRetryable } from "./retry.js";
import type { Rpc } from "./rpc.js";
import { type StreamOutcome, SubmitStreamChannel } from "./submit-stream.js";

/** A coalesced SubmitBatch carries at most this many runs… */
const COALESCE_MAX_RUNS = 1000;
/** …and at most this many argument bytes (well under the broker's 4 MiB message limit). */
const COALESCE_MAX_BYTES = 1024 * 1024;

export interface SubmitOutcome {
  run: TaskRun;
  deduplicated: boolean;
}

interface QueuedSubmit {
  req: SubmitRequest;
  resolve(o: SubmitOutcome): void;
  reject(err: unknown): void;
}

/**
 * Submit coalescing: Submits issued in one event-loop turn travel as one
 * `SubmitBatch(independent: true)` call, in which the broker validates,
 * enqueues and answers each item exactly as its own Submit. A lone Submit
 * is still a plain Submit; Submits inside an active trace are sent alone,
 * so each keeps its own trace context.
 */
/** What `trace.getTracerProvider()` delegates to while no provider is registered. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether the application registered an OpenTelemetry tracer provider
 * (asked per message, so one registered later counts from then on). With
 * one, each SubmitStream message gets the CLIENT span the unary call it
 * stands for would have (Submit, SubmitBatch) and carries its context to
 * the broker; without one that span would record nothing.
 */
function tracerProviderSet(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

/** Whether sending `req` again cannot create a second run: it carries an idempotency key or a request id. */
function retriable(req: SubmitRequest): boolean {
  return !!req.options?.idempotencyKey || !!req.requestId;
}

export class SubmitCoalescer {
  #queued: QueuedSubmit[] = [];
  /** The SubmitStream each turn's Submits travel over, when on. */
  readonly #stream: SubmitStreamChannel | undefined;

  constructor(
    readonly rpc: Rpc,
    readonly enabled: boolean,
    stream = true,
  ) {
    this.#stream = enabled && stream ? new SubmitStreamChannel(rpc) : undefined;
  }

  /** Ends the SubmitStream, if open (its messages in flight are still answered). */
  close(): void {
    this.#stream?.close();
  }

  submit(req: SubmitRequest): Promise<SubmitOutcome> {
    if (!this.enabled) return this.submitOne(req);
    if (trace.getSpanContext(otContext.active()) !== undefined) {
      // Inside a trace: sent alone, at once (in the caller's context), so it keeps its own trace.
      const stream = this.#stream;
      if (!stream?.usable) return this.submitOne(req);
      return new Promise<SubmitOutcome>((resolve, reject) => this.#submitStreamed(stream, [{ req, resolve, reject }]));
    }
    return new Promise<SubmitOutcome>((resolve, reject) => {
      if (this.#queued.push({ req, resolve, reject }) === 1) setImmediate(() => this.#flush());
    });
  }

  async submitOne(req: SubmitRequest): Promise<SubmitOutcome> {
    const raw = this.rpc.raw;
    // Only a Submit with an idempotency key or a request id may be sent
    // again: without one, a retry after a lost answer would create a second run.
    const keyed = retriable(req);
    const res = keyed ? await this.rpc.retried<SubmitRequest, SubmitResponse>("Submit", raw.submit, req, true) : await this.rpc.unary<SubmitRequest, SubmitResponse>("Submit", raw.submit, req);
    if (!res.run) throw new TaskwireError(Status.INTERNAL, "broker answered Submit without a run");
    return { run: res.run, deduplicated: res.deduplicated };
  }

  /** Sends the Submits queued during this turn: over the SubmitStream when it is usable; else one alone as Submit, more as independent SubmitBatch calls. */
  #flush(): void {
    const queued = this.#queued;
    this.#queued = [];
    const chunks: QueuedSubmit[][] = [];
    let bytes = 0;
    for (const q of queued) {
      const size = q.req.args?.data.length ?? 0;
      const last = chunks.at(-1);
      if (last && last.length < COALESCE_MAX_RUNS && bytes + size <= COALESCE_MAX_BYTES) {
        last.push(q);
        bytes += size;
      } else {
        chunks.push([q]);
        bytes = size;
      }
    }
    for (const items of chunks) {
      const [only] = items as [QueuedSubmit];
      if (this.#stream?.usable) this.#submitStreamed(this.#stream, items);
      else if (items.length === 1) this.submitOne(only.req).then(only.resolve, only.reject);
      else void this.#submitCoalesced(items);
    }
  }

  /**
   * One message on the stream. An item goes again as a unary Submit (with
   * that path's own retries) when the stream could not carry it and that
   * cannot create a second run: the broker has no SubmitStream
   * (UNIMPLEMENTED: it read nothing); or, with retries on (`callRetry`),
   * the message got no answer (the stream broke, the deadline passed) and
   * the item carries a request id or an idempotency key, or the broker
   * refused the message as a whole with a retryable status (nothing was
   * enqueued).
   */
  #submitStreamed(stream: SubmitStreamChannel, items: QueuedSubmit[]): void {
    // With OpenTelemetry set up, the message gets the CLIENT span the unary
    // call it stands for would have, and carries its context to the broker.
    const span = tracerProviderSet() ? this.rpc.clientSpan(items.length === 1 ? "Submit" : "SubmitBatch") : undefined;
    // A unary resend runs in the context the message was sent in (a traced Submit's caller's).
    const ctx = otContext.active();
    stream.send(
      items.map((i) => i.req),
      (o) => {
        span?.end(o.ok ? Status.OK : o.err.code, o.ok ? undefined : o.err.message);
        otContext.with(ctx, () => this.#streamed(stream, items, o));
      },
      span?.traceContext,
    );
  }

  /** What a SubmitStream message's outcome means for each of its Submits. */
  #streamed(stream: SubmitStreamChannel, items: QueuedSubmit[], o: StreamOutcome): void {
    if (o.ok) {
      this.#settle(items, o.batch);
      return;
    }
    const again: QueuedSubmit[] = [];
    for (const i of items) {
      // A stream that cannot be used is no retry; anything else is one, so `callRetry: false` rejects it.
      if (!stream.closed && (o.err.code === Status.UNIMPLEMENTED || (this.rpc.retry && (o.answered ? isRetryable(o.err, retriable(i.req)) : retriable(i.req))))) again.push(i);
      else i.reject(o.err);
    }
    const [only] = again;
    if (again.length > 1) void this.#submitCoalesced(again);
    else if (only) this.submitOne(only.req).then(only.resolve, only.reject);
  }

  async #submitCoalesced(items: QueuedSubmit[]): Promise<void> {
    let res: SubmitBatchResponse;
    try {
      // Every item has an idempotency key when retries are on, so the whole
      // call may be sent again.
      const keyed = items.every((i) => retriable(i.req));
      const batch = { runs: items.map((i) => i.req), independent: true };
      res = keyed ? await this.rpc.retried<SubmitBatchRequest, SubmitBatchResponse>("SubmitBatch", this.rpc.raw.submitBatch, batch, true) : await this.rpc.unary<SubmitBatchRequest, SubmitBatchResponse>("SubmitBatch", this.rpc.raw.submitBatch, batch);
    } catch (err) {
      if (err instanceof TaskwireError && err.code === Status.INVALID_ARGUMENT) {
        // A broker that predates `independent` validated all or nothing
        // and enqueued none: send each on its own for its own answer.
        for (const i of items) this.submitOne(i.req).then(i.resolve, i.reject);
      } else for (const i of items) i.reject(err);
      return;
    }
    this.#settle(items, res);
  }

  /** Each item's own outcome from an independent batch's answer; an item refused with UNAVAILABLE is sent again alone when it may be. */
  #settle(items: QueuedSubmit[], res: SubmitBatchResponse): void {
    items.forEach((item, j) => {
      const status = res.statuses[j];
      const run = res.runs[j]?.run;
      // No statuses: a broker that predates `independent` accepted them all.
      if ((status === undefined || status.code === Status.OK) && run) item.resolve({ run, deduplicated: res.runs[j]?.deduplicated ?? false });
      else if (status && this.rpc.retry && isRetryable(new TaskwireError(status.code, status.message), retriable(item.req))) this.submitOne(item.req).then(item.resolve, item.reject);
      else item.reject(new TaskwireError(status?.code ?? Status.INTERNAL, status?.message || "broker answered SubmitBatch without this run"));
    });
  }
}
