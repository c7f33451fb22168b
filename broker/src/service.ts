import type { handleServerStreamingCall, handleUnaryCall, Metadata, sendUnaryData, ServerDuplexStream, ServerUnaryCall, ServerWritableStream } from "@grpc/grpc-js";
import { context as otContext, type Context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type {
  CreateAutomationRequest,
  CreateAutomationResponse,
  DeleteAutomationRequest,
  DeleteAutomationResponse,
  GetAutomationRequest,
  GetAutomationResponse,
  ListAutomationsRequest,
  ListAutomationsResponse,
  PauseAutomationRequest,
  PauseAutomationResponse,
  CreateScheduleRequest,
  CreateScheduleResponse,
  DeleteScheduleRequest,
  DeleteScheduleResponse,
  ListSchedulesRequest,
  ListSchedulesResponse,
  PauseScheduleRequest,
  PauseScheduleResponse,
  CancelRequest,
  CancelResponse,
  GetStatusRequest,
  GetStatusResponse,
  ListRunsRequest,
  ListRunsResponse,
  RetryRequest,
  RetryResponse,
  StreamEventsRequest,
  StreamEventsResponse,
  SubmitBatchRequest,
  SubmitBatchResponse,
  SubmitRequest,
  SubmitResponse,
  SubmitStreamRequest,
  SubmitStreamResponse,
  TaskServiceServer,
} from "@taskwire/protocol";
import { AUTOMATION_QUEUE, propagator, withSpan } from "@taskwire/core";
import type { Logger } from "pino";
import { decodeErrorOf } from "./decode.js";
import { pageSchedules } from "./paging.js";
import { Authenticator, type Caller, METHOD_SCOPES, type Scope } from "./auth/index.js";
import { BrokerError, toServiceError } from "./errors.js";
import type { EventStreamer } from "./events.js";
import type { CronSchedules } from "./cron.js";
import type { AutomationStore } from "./automations/index.js";
import type { Runs } from "./runs.js";
import type { SubmitStreamHandler, SubmitStreams } from "./submit-stream.js";
import { validateGetStatus, validateListRuns, validateRunId, validateSubmit, validateTraceContext } from "./validate.js";
import { status as Status } from "@grpc/grpc-js";

const tracer = trace.getTracer("@taskwire/broker");
const SERVICE = "taskwire.v1.TaskService";

const metadataGetter = {
  keys: (md: Metadata) => Object.keys(md.getMap()),
  get: (md: Metadata, key: string) => {
    const v = md.get(key)[0];
    return typeof v === "string" ? v : undefined;
  },
};

/** Reads a SubmitStream message's trace context (a plain map). */
const mapGetter = {
  keys: (m: Record<string, string>) => Object.keys(m),
  get: (m: Record<string, string>, key: string) => m[key],
};

function withServerSpan<T>(method: string, md: Metadata, fn: (ctx: Context) => Promise<T>, traceContext?: Record<string, string>): Promise<T> {
  const parent = traceContext ? propagator.extract(otContext.active(), traceContext, mapGetter) : propagator.extract(otContext.active(), md, metadataGetter);
  return withSpan(
    tracer,
    () => ({ name: `${SERVICE}/${method}`, options: { kind: SpanKind.SERVER, attributes: { "rpc.system": "grpc", "rpc.service": SERVICE, "rpc.method": method } }, parent }),
    async (span) => {
      try {
        return await fn(trace.setSpan(parent, span));
      } catch (err) {
        const se = toServiceError(err);
        span.setAttribute("rpc.grpc.status_code", se.code ?? 2);
        span.setStatus({ code: SpanStatusCode.ERROR, message: se.details });
        throw err;
      } finally {
        span.end();
      }
    },
    parent,
  );
}

/** Maps an error to its gRPC status, logging our faults and outages at warn, the caller's at debug. */
function loggedServiceError(err: unknown, method: string, log: Logger): ReturnType<typeof toServiceError> {
  const se = toServiceError(err);
  if (se.code === Status.INTERNAL || se.code === Status.UNAVAILABLE) log.warn({ err, method }, se.details);
  else log.debug({ method, code: se.code }, se.details);
  return se;
}

/** Adapts an async handler to grpc-js, mapping errors to status codes once. */
function unary<Req, Res>(method: string, log: Logger, fn: (req: Req, ctx: Context, call: ServerUnaryCall<Req, Res>) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
    withServerSpan(method, call.metadata, (ctx) => {
      const bad = decodeErrorOf(call.request);
      if (bad !== undefined) throw BrokerError.invalid("request", `does not decode as taskwire.v1.${method}Request (${bad}); int64 fields take values up to 2^53−1 and each field's documented limit`);
      return fn(call.request, ctx, call);
    }).then(
      (res) => cb(null, res),
      (err: unknown) => cb(loggedServiceError(err, method, log)),
    );
  };
}

/** How long before the caller's deadline a waiting GetStatus answers, in ms. */
/**
 * A waiting GetStatus answers this long before the caller's deadline at
 * least, in ms: a tenth of the time left, 200 ms to 1 s — room for a GC
 * pause or a busy event loop between the broker's answer and the caller.
 */
function deadlineMargin(leftMs: number): number {
  return Math.min(1_000, Math.max(200, leftMs / 10));
}

/** The call's `authorization` metadata value, if any. */
export function authorizationOf(md: Metadata): string | undefined {
  const v = md.get("authorization")[0];
  return typeof v === "string" ? v : undefined;
}

/**
 * The automations' queue takes only the runs the brokers submit for
 * automations (their signed deliveries): a caller may not queue runs there,
 * directly or through a schedule, or it could send a forged firing signed
 * with an automation's secret.
 */
function refuseAutomationQueue(queue: string | undefined, field: string): void {
  if (queue === AUTOMATION_QUEUE) throw BrokerError.invalid(field, `"${AUTOMATION_QUEUE}" is reserved for the automations' own action runs; use another queue`);
}

/** What Submit's handlers need. */
export interface SubmitDeps {
  runs: Runs;
  log: Logger;
  maxPayloadBytes: number;
  auth: Authenticator;
}

/** A batch holds 1–1000 runs. */
function checkBatchSize(n: number): void {
  if (n === 0) throw BrokerError.invalid("runs", "is empty: send 1–1000 runs");
  if (n > 1000) throw BrokerError.invalid("runs", `has ${n} runs; the limit is 1000 per call`);
}

/**
 * Each item exactly as its own Submit: its own validation (field names
 * without the runs[i] prefix, as the caller wrote them), its own outcome
 * (an independent SubmitBatch, a SubmitStream message).
 */
async function submitIndependent(d: SubmitDeps, method: string, items: SubmitRequest[], ctx: Context, caller: Caller): Promise<SubmitBatchResponse> {
  const { runs } = d;
  // async: a validation error rejects this item only, never the batch.
  const settled = await Promise.allSettled(
    items.map(async (r) => {
      const v = validateSubmit(r, { maxPayloadBytes: d.maxPayloadBytes, retentionMs: runs.retentionMs });
      refuseAutomationQueue(v.queue, "options.queue");
      return runs.submit(v, ctx, caller.namespace);
    }),
  );
  const out: SubmitBatchResponse = { runs: [], statuses: [] };
  for (const s of settled) {
    if (s.status === "fulfilled") {
      out.runs.push(s.value);
      out.statuses.push({ code: Status.OK, message: "" });
    } else {
      const se = loggedServiceError(s.reason, method, d.log);
      out.runs.push({ run: undefined, deduplicated: false });
      out.statuses.push({ code: se.code ?? Status.INTERNAL, message: se.details ?? "" });
    }
  }
  return out;
}

/**
 * One SubmitStream message: authorised on its own with the stream's token
 * (as a Submit would be), then handled as an independent SubmitBatch. Its
 * span is named as the unary call it stands for (Submit for one run,
 * SubmitBatch for more), the child of the message's own trace context.
 */
export function submitStreamHandler(d: SubmitDeps): SubmitStreamHandler {
  return (msg, md) => {
    const tc = msg.traceContext ?? {};
    const carried = Object.keys(tc).length > 0;
    if (carried) {
      try {
        validateTraceContext(tc);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return withServerSpan(
      msg.batch?.runs.length === 1 ? "Submit" : "SubmitBatch",
      md,
      async (ctx) => {
        // Named Submit in its errors ("Submit needs the scope …"): a message is Submits.
        const caller = await d.auth.authorize(authorizationOf(md), METHOD_SCOPES.SubmitStream as Scope, "Submit");
        const items = msg.batch?.runs ?? [];
        checkBatchSize(items.length);
        return submitIndependent(d, "SubmitStream", items, ctx, caller);
      },
      carried ? tc : undefined,
    );
  };
}

/** `unary`, for handlers that run as their authenticated caller (see createService). */
const unaryCall = unary;

export function createService(
  runs: Runs,
  events: EventStreamer,
  cron: CronSchedules,
  log: Logger,
  maxPayloadBytes: number,
  inflight: { count: number },
  submitStreams: SubmitStreams,
  auth: Authenticator = new Authenticator(),
  automations?: AutomationStore,
): TaskServiceServer {
  const submitDeps: SubmitDeps = { runs, log, maxPayloadBytes, auth };
  const automationStore = (): AutomationStore => {
    if (!automations) throw new BrokerError(Status.UNIMPLEMENTED, "this broker was built without automations");
    return automations;
  };
  // Every RPC is authenticated and checked against its scope here, in one
  // place, before its handler runs; the handler gets the caller (its
  // namespace scopes every run and schedule it touches).
  const unary = <Req, Res>(method: string, l: Logger, fn: (req: Req, ctx: Context, call: ServerUnaryCall<Req, Res>, caller: Caller) => Promise<Res>): handleUnaryCall<Req, Res> =>
    unaryCall<Req, Res>(method, l, async (req, ctx, call) => fn(req, ctx, call, await auth.authorize(authorizationOf(call.metadata), METHOD_SCOPES[method] as Scope, method)));
  const track = <Req, Res>(h: handleUnaryCall<Req, Res>): handleUnaryCall<Req, Res> => (call, cb) => {
    inflight.count++;
    h(call, (err, res) => {
      inflight.count--;
      cb(err, res);
    });
  };
  return {
    submit: track(
      unary<SubmitRequest, SubmitResponse>("Submit", log, async (req, ctx, _call, caller) => {
        const v = validateSubmit(req, { maxPayloadBytes, retentionMs: runs.retentionMs });
        refuseAutomationQueue(v.queue, "options.queue");
        return runs.submit(v, ctx, caller.namespace);
      }),
    ),
    submitBatch: track(
      unary<SubmitBatchRequest, SubmitBatchResponse>("SubmitBatch", log, async (req, ctx, _call, caller) => {
        checkBatchSize(req.runs.length);
        if (req.independent) return submitIndependent(submitDeps, "SubmitBatch", req.runs, ctx, caller);
        // All or nothing: every item is validated before any is enqueued.
        const valid = req.runs.map((r, i) => validateSubmit(r, { maxPayloadBytes, retentionMs: runs.retentionMs }, `runs[${i}].`));
        valid.forEach((v, i) => refuseAutomationQueue(v.queue, `runs[${i}].options.queue`));
        const out = await Promise.all(valid.map((v) => runs.submit(v, ctx, caller.namespace)));
        return { runs: out, statuses: [] };
      }),
    ),
    getStatus: track(
      unary<GetStatusRequest, GetStatusResponse>("GetStatus", log, async (req, _ctx, call, caller) => {
        validateGetStatus(req);
        if (req.waitTimeoutMs > 0) {
          const ac = new AbortController();
          call.on("cancelled", () => ac.abort());
          // Answer before the caller's deadline (with the record as it is
          // then), never after it: a late answer is one nobody reads.
          const deadline = Number(call.getDeadline());
          const left = deadline - Date.now();
          const wait = Number.isFinite(deadline) ? Math.max(0, Math.min(req.waitTimeoutMs, left - deadlineMargin(left))) : req.waitTimeoutMs;
          const release = runs.waitsPerConnection.acquire(call.getPeer());
          try {
            return { run: await runs.withResult(await runs.waitTerminal(req.runId, wait, ac.signal, caller.namespace)) };
          } finally {
            release();
          }
        }
        return { run: await runs.withResult(await runs.get(req.runId, false, caller.namespace)) };
      }),
    ),
    cancel: track(
      unary<CancelRequest, CancelResponse>("Cancel", log, async (req, ctx, _call, caller) => {
        validateRunId(req.runId);
        if (req.reason.length > 1024) throw BrokerError.invalid("reason", `is ${req.reason.length} characters; the limit is 1024`);
        return { run: await runs.cancel(req.runId, req.reason, ctx, caller.namespace) };
      }),
    ),
    listRuns: track(
      unary<ListRunsRequest, ListRunsResponse>("ListRuns", log, async (req, _ctx, _call, caller) => {
        validateListRuns(req);
        const page = await runs.list({ task: req.task, queue: req.queue, states: req.states }, req.pageSize || 50, req.pageToken, caller.namespace);
        return { runs: page.runs, nextPageToken: page.next };
      }),
    ),
    retry: track(
      unary<RetryRequest, RetryResponse>("Retry", log, async (req, ctx, _call, caller) => {
        validateRunId(req.runId);
        return { run: await runs.retry(req.runId, ctx, caller.namespace) };
      }),
    ),
    createSchedule: track(
      unary<CreateScheduleRequest, CreateScheduleResponse>("CreateSchedule", log, async (req, _ctx, _call, caller) => {
        refuseAutomationQueue(req.schedule?.run?.options?.queue, "schedule.run.options.queue");
        return { schedule: await cron.create(req.schedule, caller.namespace) };
      }),
    ),
    listSchedules: track(unary<ListSchedulesRequest, ListSchedulesResponse>("ListSchedules", log, async (req, _ctx, _call, caller) => pageSchedules(await cron.list(caller.namespace), req))),
    pauseSchedule: track(
      unary<PauseScheduleRequest, PauseScheduleResponse>("PauseSchedule", log, async (req, _ctx, _call, caller) => ({ schedule: await cron.pause(req.name, req.paused, caller.namespace) })),
    ),
    deleteSchedule: track(
      unary<DeleteScheduleRequest, DeleteScheduleResponse>("DeleteSchedule", log, async (req, _ctx, _call, caller) => {
        await cron.delete(req.name, caller.namespace);
        return {};
      }),
    ),
    createAutomation: track(unary<CreateAutomationRequest, CreateAutomationResponse>("CreateAutomation", log, async (req, _ctx, _call, caller) => automationStore().create(req.automation, caller))),
    listAutomations: track(unary<ListAutomationsRequest, ListAutomationsResponse>("ListAutomations", log, async (req, _ctx, _call, caller) => automationStore().list(req, caller.namespace))),
    getAutomation: track(unary<GetAutomationRequest, GetAutomationResponse>("GetAutomation", log, async (req, _ctx, _call, caller) => ({ automation: await automationStore().get(req.name, caller.namespace) }))),
    pauseAutomation: track(unary<PauseAutomationRequest, PauseAutomationResponse>("PauseAutomation", log, async (req, _ctx, _call, caller) => ({ automation: await automationStore().pause(req.name, req.paused, caller.namespace) }))),
    deleteAutomation: track(
      unary<DeleteAutomationRequest, DeleteAutomationResponse>("DeleteAutomation", log, async (req, _ctx, _call, caller) => {
        await automationStore().delete(req.name, caller.namespace);
        return {};
      }),
    ),
    submitStream: (call: ServerDuplexStream<SubmitStreamRequest, SubmitStreamResponse>) => submitStreams.serve(call),
    streamEvents: ((call: ServerWritableStream<StreamEventsRequest, StreamEventsResponse>) => {
      inflight.count++;
      const bad = decodeErrorOf(call.request);
      (bad !== undefined ? Promise.reject(BrokerError.invalid("request", `does not decode as taskwire.v1.StreamEventsRequest (${bad})`)) : auth.authorize(authorizationOf(call.metadata), "runs:read", "StreamEvents").then(async (caller) => events.serve(call, caller.namespace))).then(
        () => {
          inflight.count--;
        },
        (err: unknown) => {
          inflight.count--;
          const se = toServiceError(err);
          if (se.code === Status.INTERNAL) log.warn({ err }, se.details);
          // grpc-js ends a server stream with a status when "error" is emitted on it.
          call.emit("error", se);
        },
      );
    }) as handleServerStreamingCall<StreamEventsRequest, StreamEventsResponse>,
  };
}
