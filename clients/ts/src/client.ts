import {
  type CallOptions,
  type ChannelCredentials,
  type ClientOptions,
  type ClientReadableStream,
  credentials as grpcCredentials,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { type Attributes, context as otContext, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  type CreateScheduleRequest,
  type CreateScheduleResponse,
  type DeleteScheduleRequest,
  type DeleteScheduleResponse,
  type ListSchedulesRequest,
  type ListSchedulesResponse,
  type PauseScheduleRequest,
  type PauseScheduleResponse,
  Schedule,
  CancelRequest,
  type CancelResponse,
  GetStatusRequest,
  type GetStatusResponse,
  ListRunsRequest,
  type ListRunsResponse,
  type RunState,
  RetryRequest,
  type RetryResponse,
  StreamEventsRequest,
  type StreamEventsResponse,
  SubmitBatchRequest,
  type SubmitBatchResponse,
  SubmitRequest,
  type SubmitResponse,
  TaskServiceClient,
  type TaskRun,
} from "@taskwire/protocol";
import { Status, TaskwireError } from "./errors.js";
import { RunHandle } from "./handle.js";
import { type ApplyOptions, toSubmitOptions } from "./options.js";
import { encodeArgs } from "./payload.js";

export interface ClientConfig {
  /** Broker address `host:port`. @default env TASKWIRE_ADDRESS, else "localhost:50051" */
  address?: string;
  /** Channel credentials (TLS). @default insecure */
  credentials?: ChannelCredentials;
  /** Bearer token sent as `authorization` metadata on every call (for brokers with auth). */
  token?: string;
  /** Deadline of each unary call, in ms; GetStatus waits add their wait. @default 10_000 */
  callTimeoutMs?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: ClientOptions;
  /**
   * Send Submits issued in the same event-loop turn as one SubmitBatch call
   * (`independent`: each item is validated, enqueued and answered exactly as
   * its own Submit would be). A lone Submit still goes as a plain Submit, so
   * it costs at most the rest of the current turn; under concurrency (a
   * loop of `.delay()`, a busy service) it saves a gRPC round trip and its
   * CPU per run. Submits made inside an active trace are never coalesced,
   * so each keeps its own trace context. @default true
   */
  coalesceSubmits?: boolean;
}

/** A coalesced SubmitBatch carries at most this many runs… */
const COALESCE_MAX_RUNS = 1000;
/** …and at most this many argument bytes (well under the broker's 4 MiB message limit). */
const COALESCE_MAX_BYTES = 1024 * 1024;

interface QueuedSubmit {
  req: SubmitRequest;
  resolve(o: SubmitOutcome): void;
  reject(err: unknown): void;
}

const tracer = trace.getTracer("@taskwire/client");
// Always propagate W3C context, even when the app registered no SDK: a trace
// started upstream still reaches the broker and the worker.
const w3c = new W3CTraceContextPropagator();
const SERVICE = "taskwire.v1.TaskService";
const metadataSetter = { set: (c: Metadata, k: string, v: string): void => c.set(k, v) };

export interface SubmitOutcome {
  run: TaskRun;
  deduplicated: boolean;
}

export interface ListRunsOptions {
  task?: string;
  queue?: string;
  states?: RunState[];
  /** 1–1000. @default 50 */
  pageSize?: number;
  pageToken?: string;
}

export interface StreamEventsOptions {
  runIds?: string[];
  tasks?: string[];
  states?: RunState[];
  afterCursor?: string;
  heartbeatIntervalMs?: number;
  untilTerminal?: boolean;
}

/**
 * A connection to a taskwire broker. Submit tasks by name (no need to import
 * their code), read runs, follow events, rebuild handles from run ids.
 */
export class Client {
  readonly address: string;
  readonly #raw: TaskServiceClient;
  readonly #token: string | undefined;
  readonly #callTimeoutMs: number;
  readonly #coalesce: boolean;
  #queued: QueuedSubmit[] = [];

  constructor(config: ClientConfig = {}) {
    this.address = config.address ?? process.env.TASKWIRE_ADDRESS ?? "localhost:50051";
    this.#token = config.token;
    this.#callTimeoutMs = config.callTimeoutMs ?? 10_000;
    this.#coalesce = config.coalesceSubmits ?? true;
    this.#raw = new TaskServiceClient(this.address, config.credentials ?? grpcCredentials.createInsecure(), {
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
      "grpc.max_send_message_length": 64 * 1024 * 1024,
      "grpc.keepalive_time_ms": 30_000,
      // No channelz introspection: saves its per-call bookkeeping.
      "grpc.enable_channelz": 0,
      ...config.channelOptions,
    });
  }

  /** The generated grpc-js client, for calls the SDK does not wrap. */
  get raw(): TaskServiceClient {
    return this.#raw;
  }

  close(): void {
    this.#raw.close();
  }

  #metadata(): Metadata {
    const md = new Metadata();
    if (this.#token) md.set("authorization", `Bearer ${this.#token}`);
    const active = otContext.active();
    w3c.inject(active, md, metadataSetter);
    propagation.inject(active, md, metadataSetter);
    return md;
  }

  /** The client span's attributes of each method (the same for every call). */
  readonly #spanAttributes = new Map<string, Attributes>();

  #unary<Req, Res>(
    method: string,
    call: (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown,
    req: Req,
    extraMs = 0,
  ): Promise<Res> {
    let attributes = this.#spanAttributes.get(method);
    if (!attributes) this.#spanAttributes.set(method, (attributes = { "rpc.system": "grpc", "rpc.service": SERVICE, "rpc.method": method, "server.address": this.address }));
    return tracer.startActiveSpan(
      `${SERVICE}/${method}`,
      { kind: SpanKind.CLIENT, attributes },
      (span) =>
        new Promise<Res>((resolve, reject) => {
          const deadline = new Date(Date.now() + this.#callTimeoutMs + extraMs);
          call.call(this.#raw, req, this.#metadata(), { deadline }, (err, res) => {
            if (err) {
              span.setStatus({ code: SpanStatusCode.ERROR, message: err.details });
              span.setAttribute("rpc.grpc.status_code", err.code);
              span.end();
              reject(TaskwireError.from(err));
            } else {
              span.setAttribute("rpc.grpc.status_code", 0);
              span.end();
              resolve(res);
            }
          });
        }),
    );
  }

  /** Submits a run of `task` with positional `args`; returns a handle at once. */
  async submit<R = unknown>(task: string, args: readonly unknown[] = [], options: ApplyOptions = {}): Promise<RunHandle<R>> {
    const out = await this.submitRaw(SubmitRequest.fromPartial({ task, args: encodeArgs(args), options: toSubmitOptions(options) }));
    return new RunHandle<R>(this, out.run);
  }

  /** Submit with a request built by hand (raw payloads, proto options). */
  submitRaw(req: SubmitRequest): Promise<SubmitOutcome> {
    if (!this.#coalesce || trace.getSpanContext(otContext.active()) !== undefined) return this.#submitOne(req);
    return new Promise<SubmitOutcome>((resolve, reject) => {
      if (this.#queued.push({ req, resolve, reject }) === 1) setImmediate(() => this.#flushSubmits());
    });
  }

  async #submitOne(req: SubmitRequest): Promise<SubmitOutcome> {
    const res = await this.#unary<SubmitRequest, SubmitResponse>("Submit", this.#raw.submit, req);
    if (!res.run) throw new TaskwireError(13, "broker answered Submit without a run");
    return { run: res.run, deduplicated: res.deduplicated };
  }

  /** Sends the Submits queued during this turn: one alone as Submit, more as independent SubmitBatch calls. */
  #flushSubmits(): void {
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
      if (items.length === 1) this.#submitOne(only.req).then(only.resolve, only.reject);
      else void this.#submitCoalesced(items);
    }
  }

  async #submitCoalesced(items: QueuedSubmit[]): Promise<void> {
    let res: SubmitBatchResponse;
    try {
      res = await this.#unary<SubmitBatchRequest, SubmitBatchResponse>("SubmitBatch", this.#raw.submitBatch, { runs: items.map((i) => i.req), independent: true });
    } catch (err) {
      if (err instanceof TaskwireError && err.code === Status.INVALID_ARGUMENT) {
        // A broker that predates `independent` validated all or nothing
        // and enqueued none: send each on its own for its own answer.
        for (const i of items) this.#submitOne(i.req).then(i.resolve, i.reject);
      } else for (const i of items) i.reject(err);
      return;
    }
    items.forEach((item, j) => {
      const status = res.statuses[j];
      const run = res.runs[j]?.run;
      // No statuses: a broker that predates `independent` accepted them all.
      if ((status === undefined || status.code === Status.OK) && run) item.resolve({ run, deduplicated: res.runs[j]?.deduplicated ?? false });
      else item.reject(new TaskwireError(status?.code ?? Status.INTERNAL, status?.message || "broker answered SubmitBatch without this run"));
    });
  }

  /** Submits many runs in one call (1–1000); handles come back in request order. */
  async submitBatch<R = unknown>(items: ReadonlyArray<{ task: string; args?: readonly unknown[]; options?: ApplyOptions }>): Promise<RunHandle<R>[]> {
    const req = SubmitBatchRequest.fromPartial({
      runs: items.map((i) => ({ task: i.task, args: encodeArgs(i.args ?? []), options: toSubmitOptions(i.options ?? {}) })),
    });
    const res = await this.#unary<SubmitBatchRequest, SubmitBatchResponse>("SubmitBatch", this.#raw.submitBatch, req);
    return res.runs.map((r) => {
      if (!r.run) throw new TaskwireError(13, "broker answered SubmitBatch with an empty item");
      return new RunHandle<R>(this, r.run);
    });
  }

  /** The run's current record; with `waitTimeoutMs`, first waits (up to that) for it to be terminal. */
  async getStatus(runId: string, waitTimeoutMs = 0): Promise<TaskRun> {
    const res = await this.#unary<GetStatusRequest, GetStatusResponse>(
      "GetStatus",
      this.#raw.getStatus,
      GetStatusRequest.fromPartial({ runId, waitTimeoutMs }),
      Math.max(0, waitTimeoutMs),
    );
    if (!res.run) throw new TaskwireError(13, "broker answered GetStatus without a run");
    return res.run;
  }

  /** Cancels a run (see TaskService.Cancel for the rules). */
  async cancel(runId: string, reason = ""): Promise<TaskRun> {
    const res = await this.#unary<CancelRequest, CancelResponse>("Cancel", this.#raw.cancel, CancelRequest.fromPartial({ runId, reason }));
    if (!res.run) throw new TaskwireError(13, "broker answered Cancel without a run");
    return res.run;
  }

  /** Runs a FAILED or CANCELLED run again as a new attempt (see TaskService.Retry). */
  async retry(runId: string): Promise<TaskRun> {
    const res = await this.#unary<RetryRequest, RetryResponse>("Retry", this.#raw.retry, RetryRequest.fromPartial({ runId }));
    if (!res.run) throw new TaskwireError(13, "broker answered Retry without a run");
    return res.run;
  }

  /**
   * Creates or replaces the cron schedule `name`: at every time matching
   * `cron` (5 fields, or 6 with seconds first) in `timezone` (default UTC),
   * submits a run of `task` with `args` and `options`.
   */
  async createSchedule(s: { name: string; cron: string; timezone?: string; task: string; args?: readonly unknown[]; options?: ApplyOptions; paused?: boolean }): Promise<Schedule> {
    const schedule = Schedule.fromPartial({
      name: s.name,
      cron: s.cron,
      timezone: s.timezone ?? "",
      paused: s.paused ?? false,
      run: { task: s.task, args: encodeArgs(s.args ?? []), options: toSubmitOptions(s.options ?? {}) },
    });
    const res = await this.#unary<CreateScheduleRequest, CreateScheduleResponse>("CreateSchedule", this.#raw.createSchedule, { schedule });
    if (!res.schedule) throw new TaskwireError(13, "broker answered CreateSchedule without a schedule");
    return res.schedule;
  }

  async listSchedules(): Promise<Schedule[]> {
    return (await this.#unary<ListSchedulesRequest, ListSchedulesResponse>("ListSchedules", this.#raw.listSchedules, {})).schedules;
  }

  /** Pauses (or with `paused = false` resumes) a schedule. */
  async pauseSchedule(name: string, paused = true): Promise<Schedule> {
    const res = await this.#unary<PauseScheduleRequest, PauseScheduleResponse>("PauseSchedule", this.#raw.pauseSchedule, { name, paused });
    if (!res.schedule) throw new TaskwireError(13, "broker answered PauseSchedule without a schedule");
    return res.schedule;
  }

  async deleteSchedule(name: string): Promise<void> {
    await this.#unary<DeleteScheduleRequest, DeleteScheduleResponse>("DeleteSchedule", this.#raw.deleteSchedule, { name });
  }

  async listRuns(opts: ListRunsOptions = {}): Promise<ListRunsResponse> {
    return this.#unary<ListRunsRequest, ListRunsResponse>(
      "ListRuns",
      this.#raw.listRuns,
      ListRunsRequest.fromPartial({ task: opts.task ?? "", queue: opts.queue ?? "", states: opts.states ?? [], pageSize: opts.pageSize ?? 0, pageToken: opts.pageToken ?? "" }),
    );
  }

  /**
   * Opens one StreamEvents call. Most callers want `events()`, which
   * reconnects with the last cursor; this is the raw stream.
   */
  openEventStream(opts: StreamEventsOptions = {}, signal?: AbortSignal): ClientReadableStream<StreamEventsResponse> {
    const stream = this.#raw.streamEvents(
      StreamEventsRequest.fromPartial({
        runIds: opts.runIds ?? [],
        tasks: opts.tasks ?? [],
        states: opts.states ?? [],
        afterCursor: opts.afterCursor ?? "",
        heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 0,
        untilTerminal: opts.untilTerminal ?? false,
      }),
      this.#metadata(),
    );
    signal?.addEventListener("abort", () => stream.cancel(), { once: true });
    return stream;
  }

  /**
   * Follows events as an async iterator. On a dropped connection it
   * reconnects with the last cursor it saw, so nothing is missed or repeated.
   * Heartbeats are consumed (they advance the cursor) and not yielded.
   */
  async *events(opts: StreamEventsOptions = {}, signal?: AbortSignal): AsyncGenerator<import("@taskwire/protocol").RunEvent> {
    let cursor = opts.afterCursor ?? "";
    let backoff = 100;
    for (;;) {
      const stream = this.openEventStream({ ...opts, afterCursor: cursor }, signal);
      try {
        for await (const msg of stream as AsyncIterable<StreamEventsResponse>) {
          backoff = 100;
          if (msg.event) {
            cursor = msg.event.cursor;
            yield msg.event;
          } else if (msg.heartbeat?.cursor) {
            cursor = msg.heartbeat.cursor;
          }
        }
        return;
      } catch (err) {
        const e = TaskwireError.from(err);
        if (signal?.aborted || e.code !== 14 /* UNAVAILABLE */) throw e;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5_000);
      } finally {
        stream.cancel();
      }
    }
  }

  /** A handle for an existing run id (e.g. one stored in your database). */
  handle<R = unknown>(runId: string): RunHandle<R> {
    return new RunHandle<R>(this, { id: runId });
  }
}

let defaultClient: Client | undefined;

/** The client `task().delay()` uses: set explicitly, else one from TASKWIRE_ADDRESS. */
export function getDefaultClient(): Client {
  return (defaultClient ??= new Client());
}

export function setDefaultClient(client: Client | undefined): void {
  defaultClient = client;
}
