import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";
import { type handleServerStreamingCall, type handleUnaryCall, type ServiceError, status as Status } from "@grpc/grpc-js";
import type { KV } from "@nats-io/kv";
import {
  CancelResponse,
  CreateAutomationResponse,
  DeleteAutomationResponse,
  GetAutomationResponse,
  ListAutomationsResponse,
  PauseAutomationResponse,
  CreateScheduleResponse,
  DeleteScheduleResponse,
  GetStatusResponse,
  ListRunsResponse,
  ListSchedulesResponse,
  PauseScheduleResponse,
  ProtoJsonError,
  protoJsonToBinary,
  queryToProtoJson,
  RetryResponse,
  StreamEventsResponse,
  SubmitBatchResponse,
  SubmitResponse,
  type TaskServiceServer,
  type TaskServiceService,
} from "@taskwire/protocol";
import { type HttpHandler, listWorkers, pathOf, sendJson } from "@taskwire/core";
import type { Logger } from "pino";
import { toServiceError } from "../errors.js";
import type { BrokerMetrics } from "../metrics.js";
import type { QueueStats } from "../queues.js";
import { statusOfError, streamingCall, unaryCall } from "./calls.js";
import { httpStatusOf } from "./status.js";

/** The part of the broker's Authenticator the routes that are not RPCs need. */
export interface Authorizer {
  readonly enabled: boolean;
  authorize(authorization: string | undefined, scope: "runs:read", method: string): Promise<unknown>;
}

/** What the JSON API runs on; undefined parts answer 503 while the broker starts. */
export interface ApiDeps {
  /** The TaskService handlers gRPC serves (instrumented). */
  service: TaskServiceServer;
  /** The service definition gRPC serves, for its request deserializers. */
  definition: typeof TaskServiceService;
  auth: Authorizer | undefined;
  queues: QueueStats;
  workers: KV;
}

export interface ApiOptions {
  /** Largest request body, in bytes; larger → 413. */
  maxBodyBytes: number;
  /** True when the HTTP port is on loopback: then, without auth, only loopback Host headers are answered (DNS rebinding). */
  loopback: boolean;
  metrics: BrokerMetrics;
  log: Logger;
}

/** An answer of the API's own (not a handler's): an HTTP status and the gRPC code of the body. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string): HttpError => new HttpError(400, Status.INVALID_ARGUMENT, message);

function sendError(res: ServerResponse, code: number, message: string, status = httpStatusOf(code), headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { code, message }, headers);
}

/** The request body as JSON: `application/json` only (so a cross-site form cannot post), at most `limit` bytes, an object. */
async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(415, Status.INVALID_ARGUMENT, `send the body as JSON with "content-type: application/json" (got ${type ? `"${type}"` : "none"}); an empty body is {}`);
  }
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new HttpError(413, Status.RESOURCE_EXHAUSTED, `the body is ${declared} bytes; the limit is ${limit} (it follows TASKWIRE_MAX_PAYLOAD_BYTES)`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, Status.RESOURCE_EXHAUSTED, `the body is over the limit of ${limit} bytes (it follows TASKWIRE_MAX_PAYLOAD_BYTES)`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalid(`the body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalid(`the body must be a JSON object, got ${Array.isArray(value) ? "an array" : value === null ? "null" : typeof value}`);
  return value as Record<string, unknown>;
}

/** Host names a browser on this machine may use for a loopback port; anything else could be DNS rebinding. */
function loopbackHost(host: string | undefined): boolean {
  if (!host) return true;
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "").toLowerCase();
  return name === "localhost" || name.endsWith(".localhost") || isIP(name) !== 0;
}

/** The JSON of one response type (ts-proto's proto3 JSON writer). */
type ToJson = (m: never) => unknown;

/** The RPC each route runs: its handler key, its request type and how its answer is written. */
interface Rpc {
  key: keyof typeof TaskServiceService;
  method: string;
  toJSON: ToJson;
}

const RPCS = {
  submit: { key: "submit", method: "Submit", toJSON: SubmitResponse.toJSON },
  submitBatch: { key: "submitBatch", method: "SubmitBatch", toJSON: SubmitBatchResponse.toJSON },
  getStatus: { key: "getStatus", method: "GetStatus", toJSON: GetStatusResponse.toJSON },
  listRuns: { key: "listRuns", method: "ListRuns", toJSON: ListRunsResponse.toJSON },
  cancel: { key: "cancel", method: "Cancel", toJSON: CancelResponse.toJSON },
  retry: { key: "retry", method: "Retry", toJSON: RetryResponse.toJSON },
  listSchedules: { key: "listSchedules", method: "ListSchedules", toJSON: ListSchedulesResponse.toJSON },
  createSchedule: { key: "createSchedule", method: "CreateSchedule", toJSON: CreateScheduleResponse.toJSON },
  pauseSchedule: { key: "pauseSchedule", method: "PauseSchedule", toJSON: PauseScheduleResponse.toJSON },
  deleteSchedule: { key: "deleteSchedule", method: "DeleteSchedule", toJSON: DeleteScheduleResponse.toJSON },
  listAutomations: { key: "listAutomations", method: "ListAutomations", toJSON: ListAutomationsResponse.toJSON },
  createAutomation: { key: "createAutomation", method: "CreateAutomation", toJSON: CreateAutomationResponse.toJSON },
  getAutomation: { key: "getAutomation", method: "GetAutomation", toJSON: GetAutomationResponse.toJSON },
  pauseAutomation: { key: "pauseAutomation", method: "PauseAutomation", toJSON: PauseAutomationResponse.toJSON },
  deleteAutomation: { key: "deleteAutomation", method: "DeleteAutomation", toJSON: DeleteAutomationResponse.toJSON },
} satisfies Record<string, Rpc>;

/** Where a request's fields come from. */
type Source = { body: true } | { query: true };

interface Route {
  method: "GET" | "POST" | "DELETE";
  /** `/v1/runs/{id}:cancel` etc.: the metrics label, and what the pattern matches. */
  name: string;
  pattern: RegExp;
  /** Runs the route; `params` are the pattern's decoded groups. */
  run(ctx: Ctx, params: string[]): Promise<void>;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  deps: ApiDeps;
}

/**
 * The JSON API under `/v1/` (docs/http-api.md): each route decodes its
 * request with the proto3 JSON mapping into the protobuf request a gRPC
 * client would send, and runs the TaskService handler gRPC runs, on a call
 * object made from the HTTP request. StreamEvents is served as
 * server-sent events. `/v1/queues` and `/v1/workers` read JetStream and the
 * workers bucket, with the `runs:read` scope.
 */
export function apiHandler(deps: () => ApiDeps | undefined, opts: ApiOptions): HttpHandler {
  const { metrics, log } = opts;

  /** Decodes the request of `rpc` from JSON and runs its handler; answers the response's JSON. */
  const unary = async (ctx: Ctx, rpc: Rpc, json: Record<string, unknown>): Promise<void> => {
    const def = ctx.deps.definition[rpc.key];
    let bytes: Uint8Array;
    try {
      bytes = protoJsonToBinary(`taskwire.v1.${rpc.method}Request`, json as never);
    } catch (err) {
      if (err instanceof ProtoJsonError) throw invalid(err.message);
      throw err;
    }
    const request: unknown = def.requestDeserialize(Buffer.from(bytes));
    const handler = ctx.deps.service[rpc.key] as handleUnaryCall<unknown, unknown>;
    await new Promise<void>((resolve) => {
      handler(unaryCall(ctx.req, ctx.res, def.path, request), (err: Partial<ServiceError> | null, value?: unknown) => {
        if (err) {
          const s = statusOfError(err);
          sendError(ctx.res, s.code, s.message);
        } else sendJson(ctx.res, 200, rpc.toJSON(value as never));
        resolve();
      });
    });
  };

  /** The fields of a request: the query (GET, DELETE) or the JSON body (POST), and the path's. */
  const fields = async (ctx: Ctx, rpc: Rpc, from: Source, path: Record<string, string> = {}): Promise<Record<string, unknown>> => {
    let json: Record<string, unknown>;
    if ("body" in from) json = await readJson(ctx.req, opts.maxBodyBytes);
    else {
      try {
        json = queryToProtoJson(`taskwire.v1.${rpc.method}Request`, ctx.url.searchParams);
      } catch (err) {
        if (err instanceof ProtoJsonError) throw invalid(err.message);
        throw err;
      }
    }
    // The path's values win over the body's (a body may repeat them).
    return { ...json, ...path };
  };

  const route = (method: Route["method"], name: string, pattern: RegExp, run: Route["run"]): Route => ({ method, name, pattern, run });
  const rpcRoute = (method: Route["method"], name: string, pattern: RegExp, rpc: Rpc, from: Source, pathField?: string): Route =>
    route(method, name, pattern, async (ctx, params) => unary(ctx, rpc, await fields(ctx, rpc, from, pathField ? { [pathField]: params[0] ?? "" } : {})));

  const routes: Route[] = [
    rpcRoute("POST", "/v1/runs", /^\/v1\/runs$/, RPCS.submit, { body: true }),
    rpcRoute("GET", "/v1/runs", /^\/v1\/runs$/, RPCS.listRuns, { query: true }),
    rpcRoute("POST", "/v1/runs:batch", /^\/v1\/runs:batch$/, RPCS.submitBatch, { body: true }),
    rpcRoute("GET", "/v1/runs/{id}", /^\/v1\/runs\/([^/:]+)$/, RPCS.getStatus, { query: true }, "runId"),
    rpcRoute("POST", "/v1/runs/{id}:cancel", /^\/v1\/runs\/([^/:]+):cancel$/, RPCS.cancel, { body: true }, "runId"),
    rpcRoute("POST", "/v1/runs/{id}:retry", /^\/v1\/runs\/([^/:]+):retry$/, RPCS.retry, { body: true }, "runId"),
    rpcRoute("GET", "/v1/schedules", /^\/v1\/schedules$/, RPCS.listSchedules, { query: true }),
    route("POST", "/v1/schedules", /^\/v1\/schedules$/, async (ctx) => unary(ctx, RPCS.createSchedule, await fields(ctx, RPCS.createSchedule, { body: true }))),
    rpcRoute("POST", "/v1/schedules/{name}:pause", /^\/v1\/schedules\/([^/:]+):pause$/, RPCS.pauseSchedule, { body: true }, "name"),
    rpcRoute("DELETE", "/v1/schedules/{name}", /^\/v1\/schedules\/([^/:]+)$/, RPCS.deleteSchedule, { query: true }, "name"),
    rpcRoute("GET", "/v1/automations", /^\/v1\/automations$/, RPCS.listAutomations, { query: true }),
    rpcRoute("POST", "/v1/automations", /^\/v1\/automations$/, RPCS.createAutomation, { body: true }),
    rpcRoute("GET", "/v1/automations/{name}", /^\/v1\/automations\/([^/:]+)$/, RPCS.getAutomation, { query: true }, "name"),
    rpcRoute("POST", "/v1/automations/{name}:pause", /^\/v1\/automations\/([^/:]+):pause$/, RPCS.pauseAutomation, { body: true }, "name"),
    rpcRoute("DELETE", "/v1/automations/{name}", /^\/v1\/automations\/([^/:]+)$/, RPCS.deleteAutomation, { query: true }, "name"),
    route("GET", "/v1/events", /^\/v1\/events$/, async (ctx) => events(ctx)),
    route("GET", "/v1/queues", /^\/v1\/queues$/, async (ctx) => {
      await ctx.deps.auth?.authorize(authorizationOf(ctx.req), "runs:read", "ListQueues");
      noQuery(ctx);
      sendJson(ctx.res, 200, { queues: await ctx.deps.queues.read() });
    }),
    route("GET", "/v1/workers", /^\/v1\/workers$/, async (ctx) => {
      await ctx.deps.auth?.authorize(authorizationOf(ctx.req), "runs:read", "ListWorkers");
      noQuery(ctx);
      sendJson(ctx.res, 200, { workers: await listWorkers(ctx.deps.workers) });
    }),
  ];

  /** StreamEvents as server-sent events: `id: <cursor>` and `data: <StreamEventsResponse JSON>` per message. */
  const events = async (ctx: Ctx): Promise<void> => {
    const { req, res } = ctx;
    const rpc = { key: "streamEvents", method: "StreamEvents", toJSON: StreamEventsResponse.toJSON } as const;
    const json = await fields(ctx, rpc, { query: true });
    // EventSource resends the last `id:` it saw on reconnect; it is newer than the URL's after_cursor.
    const lastId = req.headers["last-event-id"];
    if (typeof lastId === "string" && lastId.trim() !== "") json.afterCursor = lastId.trim();
    delete json.after_cursor;
    const def = ctx.deps.definition.streamEvents;
    let bytes: Uint8Array;
    try {
      bytes = protoJsonToBinary("taskwire.v1.StreamEventsRequest", json as never);
    } catch (err) {
      if (err instanceof ProtoJsonError) throw invalid(err.message);
      throw err;
    }
    let started = false;
    const start = (): void => {
      if (started || res.writableEnded) return;
      started = true;
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
      // A comment: the stream is open (proxies and clients see bytes at once).
      res.write(": taskwire events\n\n");
    };
    const write = (m: StreamEventsResponse): boolean => {
      start();
      const cursor = m.event?.cursor || m.heartbeat?.cursor || "";
      return res.write(`${cursor ? `id: ${cursor}\n` : ""}data: ${JSON.stringify(StreamEventsResponse.toJSON(m))}\n\n`);
    };
    const call = streamingCall(req, res, def.path, def.requestDeserialize(Buffer.from(bytes)), write);
    // Errors found before anything was sent (bad filters, unknown run,
    // refused token) answer with their HTTP status; the stream opens once
    // the handler is past them, or after 250 ms at the latest.
    const opener = setTimeout(start, 250);
    await new Promise<void>((resolve) => {
      call.once("finish", () => {
        clearTimeout(opener);
        start();
        res.end("event: end\ndata: {}\n\n");
        resolve();
      });
      call.once("error", (e: unknown) => {
        clearTimeout(opener);
        const s = statusOfError(e);
        if (!started) sendError(res, s.code, s.message);
        else res.end(`event: error\ndata: ${JSON.stringify({ code: s.code, message: s.message })}\n\n`);
        resolve();
      });
      call.once("close", () => {
        clearTimeout(opener);
        resolve();
      });
      (ctx.deps.service.streamEvents as handleServerStreamingCall<unknown, unknown>)(call);
    });
  };

  return async (req, res) => {
    const path = pathOf(req);
    if (path !== "/v1" && !path.startsWith("/v1/")) return false;
    let name = "unknown";
    res.once("finish", () => metrics.httpRequests.inc({ route: name, code: String(res.statusCode) }));
    try {
      const matching = routes.filter((r) => r.pattern.test(path));
      if (matching.length === 0) throw new HttpError(404, Status.NOT_FOUND, `no route ${req.method ?? ""} ${path}; the routes are in docs/http-api.md`);
      const r = matching.find((m) => m.method === req.method);
      if (!r) {
        const allow = [...new Set(matching.map((m) => m.method))].join(", ");
        sendError(res, Status.UNIMPLEMENTED, `${path} answers ${allow}, not ${req.method ?? ""}`, 405, { allow });
        return true;
      }
      name = r.name;
      const d = deps();
      if (!d) throw new HttpError(503, Status.UNAVAILABLE, "the broker is starting (connecting to NATS); retry in a moment");
      if (opts.loopback && !d.auth?.enabled && !loopbackHost(req.headers.host)) {
        throw new HttpError(403, Status.PERMISSION_DENIED, `Host "${req.headers.host ?? ""}" is refused: without auth, a loopback port answers only localhost and IP addresses (a guard against DNS rebinding); configure auth to serve other names`);
      }
      const params = (r.pattern.exec(path) ?? []).slice(1).map((p) => {
        try {
          return decodeURIComponent(p);
        } catch {
          throw invalid(`the path segment "${p}" is not valid percent-encoding`);
        }
      });
      await r.run({ req, res, url: new URL(req.url ?? "/", "http://x"), deps: d }, params);
    } catch (err) {
      if (err instanceof HttpError) sendError(res, err.code, err.message, err.status, err.status === 413 ? { connection: "close" } : {});
      else {
        // A BrokerError (e.g. the authorizer's) keeps its code; a NATS outage is UNAVAILABLE; the rest is ours.
        const se = toServiceError(err);
        if (se.code === Status.INTERNAL) log.warn({ err, path }, "JSON API request failed");
        sendError(res, se.code ?? Status.INTERNAL, se.details ?? "internal error");
      }
    }
    return true;
  };
}

function authorizationOf(req: IncomingMessage): string | undefined {
  const v = req.headers.authorization;
  return typeof v === "string" ? v : undefined;
}

function noQuery(ctx: Ctx): void {
  const keys = [...ctx.url.searchParams.keys()];
  if (keys.length > 0) throw invalid(`unknown query parameter "${keys[0]}"; this route takes none`);
}
