import type { ChannelCredentials, ClientOptions, ClientReadableStream } from "@grpc/grpc-js";
import {
  newUuidV7,
  Automation,
  type CreateAutomationRequest,
  type CreateAutomationResponse,
  type DeleteAutomationRequest,
  type DeleteAutomationResponse,
  type GetAutomationRequest,
  type GetAutomationResponse,
  type ListAutomationsRequest,
  type ListAutomationsResponse,
  type PauseAutomationRequest,
  type PauseAutomationResponse,
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
  type RunEvent,
  type RunState,
  RetryRequest,
  type RetryResponse,
  type StreamEventsResponse,
  SubmitBatchRequest,
  type SubmitBatchResponse,
  SubmitRequest,
  TaskServiceClient,
  type TaskRun,
} from "@taskwire/protocol";
import { SubmitCoalescer, type SubmitOutcome } from "./coalescer.js";
import { Status, TaskwireError } from "./errors.js";
import { followEvents, openEventStream, type StreamEventsOptions } from "./events.js";
import { RunHandle } from "./handle.js";
import { type ApplyOptions, toSubmitOptions } from "./options.js";
import { encodeArgs } from "./payload.js";
import { type CallRetry, DEFAULT_CALL_RETRY } from "./retry.js";
import { Rpc } from "./rpc.js";
import { channelCredentials, type TlsOptions, tlsFromEnv } from "./tls.js";

/** Every field optional, all the way down (what `fromPartial` of the generated messages takes). */
type DeepPartial<T> = T extends Date | Uint8Array ? T : T extends Array<infer U> ? Array<DeepPartial<U>> : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** An automation as `createAutomation` takes it: any field may be left out (defaults as in proto/taskwire/v1/automation.proto). */
export type AutomationInput = DeepPartial<Automation>;

export type { SubmitOutcome } from "./coalescer.js";
export type { StreamEventsOptions } from "./events.js";

export interface ClientConfig {
  /** Broker address `host:port`. @default env TASKWIRE_ADDRESS, else "localhost:50051" */
  address?: string;
  /** Channel credentials (grpc-js), when `tls` is not enough; wins over `tls`. @default from `tls` */
  credentials?: ChannelCredentials;
  /**
   * TLS to the broker: `true` (system roots) or `{ ca, cert, key }` (PEM
   * text or file paths; cert and key for mTLS). @default from the
   * environment: on when TASKWIRE_TLS_CA is set or TASKWIRE_TLS=true, with
   * TASKWIRE_TLS_CERT / TASKWIRE_TLS_KEY as the client certificate; else
   * plaintext
   */
  tls?: TlsOptions | boolean;
  /** Bearer token sent as `authorization` metadata on every call (for brokers with auth). @default env TASKWIRE_TOKEN */
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
  /**
   * Send coalesced Submits over one long-lived `SubmitStream` instead of a
   * unary call per turn: each turn's Submits are one message on the
   * stream, answered by id. A unary call costs both ends an HTTP/2 stream
   * with its headers and trailers; at a steady 1,000 Submits/s the stream
   * cuts the client's CPU per Submit by about two thirds and the broker's
   * gRPC share likewise (docs/performance.md). The stream opens on the
   * first Submit and ends after 200 ms with nothing in flight, so an idle
   * process can exit. A message without an answer (the stream broke, no
   * answer within `callTimeoutMs`) is sent again as a unary Submit when
   * retries are on (`callRetry`) and that cannot create a second run (a
   * request id or an idempotency key: see `requestIds`), with a deadline
   * of its own (such a Submit may take up to twice `callTimeoutMs`); a
   * stream that leaves a message unanswered is cancelled. After a broken
   * stream, Submits go as unary calls for 1 s, doubling per failure in a
   * row up to 30 s; a broker without
   * SubmitStream (UNIMPLEMENTED) turns it off for this client. Needs
   * `coalesceSubmits`. A Submit inside an active trace goes alone, as its
   * own message; with an OpenTelemetry tracer provider registered, every
   * message gets the CLIENT span its unary call would have had (Submit for
   * one run, SubmitBatch for more) and carries its trace context, so traces
   * look the same either way.
   * @default true
   */
  submitStream?: boolean;
  /**
   * Give every Submit without an idempotency key a request id (a UUIDv7,
   * the same for all its retries: `SubmitRequest.request_id`), so a Submit
   * retried after a lost answer yields the same run, never a second one.
   * The broker makes it the run's id, so it costs nothing extra while this
   * machine's clock is within 60 s of the broker's (one more KV write per
   * Submit beyond that). `false`: Submits without a key are sent once and
   * never retried. @default true
   */
  requestIds?: boolean;
  /** @deprecated the former name of `requestIds` (which now sends request ids instead of random idempotency keys). */
  autoIdempotencyKeys?: boolean;
  /**
   * Retry calls that failed with UNAVAILABLE (the broker or NATS briefly
   * unreachable) — Submit also on the documented ABORTED "idempotency key
   * changed concurrently" — with exponential backoff and jitter, all
   * attempts within the call's deadline. Submit is retried only with an
   * idempotency key; GetStatus, ListRuns, Cancel and Retry always. `false`
   * turns retries off. @default { maxAttempts: 5, initialBackoffMs: 50, maxBackoffMs: 1_000, multiplier: 2, jitter: 0.2 }
   */
  callRetry?: CallRetry | false;
}

export interface ListRunsOptions {
  task?: string;
  queue?: string;
  states?: RunState[];
  /** 1–1000. @default 50 */
  pageSize?: number;
  pageToken?: string;
}

/**
 * A connection to a taskwire broker. Submit tasks by name (no need to import
 * their code), read runs, follow events, rebuild handles from run ids.
 */
export class Client {
  readonly address: string;
  readonly #raw: TaskServiceClient;
  readonly #rpc: Rpc;
  readonly #submits: SubmitCoalescer;
  readonly #requestIds: boolean;

  constructor(config: ClientConfig = {}) {
    this.address = config.address ?? process.env.TASKWIRE_ADDRESS ?? "localhost:50051";
    this.#raw = new TaskServiceClient(this.address, config.credentials ?? channelCredentials(tlsFromEnv(config.tls)), {
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
      "grpc.max_send_message_length": 64 * 1024 * 1024,
      "grpc.keepalive_time_ms": 30_000,
      // No channelz introspection: saves its per-call bookkeeping.
      "grpc.enable_channelz": 0,
      ...config.channelOptions,
    });
    const retry = config.callRetry === false ? undefined : { ...DEFAULT_CALL_RETRY, ...config.callRetry };
    this.#rpc = new Rpc(this.#raw, this.address, config.token ?? (process.env.TASKWIRE_TOKEN || undefined), config.callTimeoutMs ?? 10_000, retry);
    this.#requestIds = config.requestIds ?? config.autoIdempotencyKeys ?? true;
    this.#submits = new SubmitCoalescer(this.#rpc, config.coalesceSubmits ?? true, config.submitStream ?? true);
  }

  /** The generated grpc-js client, for calls the SDK does not wrap. */
  get raw(): TaskServiceClient {
    return this.#raw;
  }

  close(): void {
    this.#submits.close();
    this.#raw.close();
  }

  /** Submits a run of `task` with positional `args`; returns a handle at once. */
  async submit<R = unknown>(task: string, args: readonly unknown[] = [], options: ApplyOptions = {}): Promise<RunHandle<R>> {
    const out = await this.submitRaw(SubmitRequest.fromPartial({ task, args: encodeArgs(args), options: toSubmitOptions(options) }));
    return new RunHandle<R>(this, out.run);
  }

  /** Submit with a request built by hand (raw payloads, proto options). */
  submitRaw(req: SubmitRequest): Promise<SubmitOutcome> {
    // A request built by hand may lack fields added since (the encoder needs every string set).
    if (req.requestId === undefined) req = { ...req, requestId: "" };
    if (!this.#requestIds || req.options?.idempotencyKey || req.requestId) return this.#submits.submit(req);
    // Set once, before the first attempt: every retry carries the same id.
    // With an id of our own, "deduplicated" can only mean that an earlier
    // attempt of this same call created the run: not a duplicate to report.
    return this.#submits.submit({ ...req, requestId: newUuidV7() }).then((o) => ({ ...o, deduplicated: false }));
  }

  /** Submits many runs in one call (1–1000); handles come back in request order. */
  async submitBatch<R = unknown>(items: ReadonlyArray<{ task: string; args?: readonly unknown[]; options?: ApplyOptions }>): Promise<RunHandle<R>[]> {
    const req = SubmitBatchRequest.fromPartial({
      runs: items.map((i) => ({ task: i.task, args: encodeArgs(i.args ?? []), options: toSubmitOptions(i.options ?? {}) })),
    });
    const res = await this.#rpc.unary<SubmitBatchRequest, SubmitBatchResponse>("SubmitBatch", this.#raw.submitBatch, req);
    return res.runs.map((r) => {
      if (!r.run) throw new TaskwireError(Status.INTERNAL, "broker answered SubmitBatch with an empty item");
      return new RunHandle<R>(this, r.run);
    });
  }

  /** The run's current record; with `waitTimeoutMs`, first waits (up to that) for it to be terminal. */
  async getStatus(runId: string, waitTimeoutMs = 0): Promise<TaskRun> {
    const res = await this.#rpc.retried<GetStatusRequest, GetStatusResponse>(
      "GetStatus",
      this.#raw.getStatus,
      GetStatusRequest.fromPartial({ runId, waitTimeoutMs }),
      false,
      Math.max(0, waitTimeoutMs),
    );
    if (!res.run) throw new TaskwireError(Status.INTERNAL, "broker answered GetStatus without a run");
    return res.run;
  }

  /** Cancels a run (see TaskService.Cancel for the rules). */
  async cancel(runId: string, reason = ""): Promise<TaskRun> {
    const res = await this.#rpc.retried<CancelRequest, CancelResponse>("Cancel", this.#raw.cancel, CancelRequest.fromPartial({ runId, reason }));
    if (!res.run) throw new TaskwireError(Status.INTERNAL, "broker answered Cancel without a run");
    return res.run;
  }

  /** Runs a FAILED or CANCELLED run again as a new attempt (see TaskService.Retry). */
  async retry(runId: string): Promise<TaskRun> {
    const res = await this.#rpc.retried<RetryRequest, RetryResponse>("Retry", this.#raw.retry, RetryRequest.fromPartial({ runId }));
    if (!res.run) throw new TaskwireError(Status.INTERNAL, "broker answered Retry without a run");
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
    const res = await this.#rpc.unary<CreateScheduleRequest, CreateScheduleResponse>("CreateSchedule", this.#raw.createSchedule, { schedule });
    if (!res.schedule) throw new TaskwireError(Status.INTERNAL, "broker answered CreateSchedule without a schedule");
    return res.schedule;
  }

  /** Every schedule, by name (all pages). */
  async listSchedules(): Promise<Schedule[]> {
    const out: Schedule[] = [];
    let pageToken = "";
    do {
      const page = await this.#rpc.retried<ListSchedulesRequest, ListSchedulesResponse>("ListSchedules", this.#raw.listSchedules, { pageSize: 1000, pageToken });
      out.push(...page.schedules);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return out;
  }

  /** Pauses (or with `paused = false` resumes) a schedule. */
  async pauseSchedule(name: string, paused = true): Promise<Schedule> {
    const res = await this.#rpc.unary<PauseScheduleRequest, PauseScheduleResponse>("PauseSchedule", this.#raw.pauseSchedule, { name, paused });
    if (!res.schedule) throw new TaskwireError(Status.INTERNAL, "broker answered PauseSchedule without a schedule");
    return res.schedule;
  }

  async deleteSchedule(name: string): Promise<void> {
    await this.#rpc.unary<DeleteScheduleRequest, DeleteScheduleResponse>("DeleteSchedule", this.#raw.deleteSchedule, { name });
  }

  /**
   * Creates or replaces the automation `a.name` (docs/automations.md):
   * when its trigger fires, each of its actions is carried out once, as a
   * run. Answers the automation and, when the broker generated the webhook
   * signing secret, that secret (shown only here).
   */
  async createAutomation(a: AutomationInput): Promise<{ automation: Automation; secret: string }> {
    // fromPartial fills every field left out; the cast only widens its generic parameter.
    const res = await this.#rpc.unary<CreateAutomationRequest, CreateAutomationResponse>("CreateAutomation", this.#raw.createAutomation, { automation: Automation.fromPartial(a as unknown as Automation) });
    if (!res.automation) throw new TaskwireError(Status.INTERNAL, "broker answered CreateAutomation without an automation");
    return { automation: res.automation, secret: res.secret };
  }

  /** Every automation of the caller's namespace, by name (all pages), with its status. */
  async listAutomations(): Promise<Automation[]> {
    const out: Automation[] = [];
    let pageToken = "";
    do {
      const page = await this.#rpc.retried<ListAutomationsRequest, ListAutomationsResponse>("ListAutomations", this.#raw.listAutomations, { pageSize: 1000, pageToken });
      out.push(...page.automations);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return out;
  }

  /** One automation with its status and recent firings. */
  async getAutomation(name: string): Promise<Automation> {
    const res = await this.#rpc.retried<GetAutomationRequest, GetAutomationResponse>("GetAutomation", this.#raw.getAutomation, { name });
    if (!res.automation) throw new TaskwireError(Status.INTERNAL, "broker answered GetAutomation without an automation");
    return res.automation;
  }

  /** Pauses (or with `paused = false` resumes) an automation. */
  async pauseAutomation(name: string, paused = true): Promise<Automation> {
    const res = await this.#rpc.unary<PauseAutomationRequest, PauseAutomationResponse>("PauseAutomation", this.#raw.pauseAutomation, { name, paused });
    if (!res.automation) throw new TaskwireError(Status.INTERNAL, "broker answered PauseAutomation without an automation");
    return res.automation;
  }

  async deleteAutomation(name: string): Promise<void> {
    await this.#rpc.unary<DeleteAutomationRequest, DeleteAutomationResponse>("DeleteAutomation", this.#raw.deleteAutomation, { name });
  }

  async listRuns(opts: ListRunsOptions = {}): Promise<ListRunsResponse> {
    return this.#rpc.retried<ListRunsRequest, ListRunsResponse>(
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
    return openEventStream(this.#rpc, opts, signal);
  }

  /**
   * Follows events as an async iterator. On a dropped connection it
   * reconnects with the last cursor it saw, so nothing is missed or repeated.
   * Heartbeats are consumed (they advance the cursor) and not yielded.
   */
  events(opts: StreamEventsOptions = {}, signal?: AbortSignal): AsyncGenerator<RunEvent> {
    return followEvents(this.#rpc, opts, signal);
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
