import { status as Status, type handleServerStreamingCall, type handleUnaryCall, type ServerWritableStream, type UntypedHandleCall } from "@grpc/grpc-js";
import { type SubmitBatchResponse, type SubmitResponse, type SubmitStreamResponse, TaskServiceService, type TaskServiceServer } from "@taskwire/protocol";
import { type BrokerMetrics, codeName } from "./metrics.js";

type Observe = (seconds: number) => void;

/**
 * Wraps every handler of the TaskService implementation with its metrics:
 * unary calls' latency by method and gRPC code, open and ended streams,
 * and accepted submits by task and queue. The JSON API dispatches into the
 * wrapped handlers too, so each call is counted once, whichever transport
 * it came by. Kept outside the handlers so they stay about the RPCs.
 */
export function instrumentService(service: TaskServiceServer, m: BrokerMetrics): TaskServiceServer {
  // One observer per (method, code), holding its interned label set.
  const children = new Map<string, Observe>();
  const observe = (method: string, code: number | undefined, seconds: number): void => {
    const c = code ?? Status.OK;
    const k = `${method}\u0000${c}`;
    let o = children.get(k);
    if (!o) {
      const labels = { method, code: codeName(c) };
      children.set(k, (o = (s) => m.rpcDuration.record(labels, s)));
    }
    o(seconds);
  };
  const out: Record<string, UntypedHandleCall> = {};
  for (const [key, def] of Object.entries(TaskServiceService)) {
    const method = def.path.slice(def.path.lastIndexOf("/") + 1);
    const handler = service[key];
    if (!handler) continue;
    if (def.responseStream) {
      const h = handler as handleServerStreamingCall<unknown, unknown>;
      out[key] = ((call: ServerWritableStream<unknown, unknown>) => {
        m.openStreams.inc({ method });
        let ended = false;
        const end = (code: number | undefined): void => {
          if (ended) return;
          ended = true;
          m.openStreams.dec({ method });
          m.streams.inc({ method, code: codeName(code ?? Status.OK) });
        };
        call.once("error", (e: { code?: number }) => end(e.code ?? Status.UNKNOWN));
        call.once("cancelled", () => end(Status.CANCELLED));
        call.once("finish", () => end(Status.OK));
        call.once("close", () => end(Status.OK));
        if (key === "submitStream") {
          // Runs accepted over a stream count as Submits' do, as each answer leaves.
          const write = call.write.bind(call) as (res: unknown, ...rest: unknown[]) => boolean;
          (call as { write: typeof write }).write = (res, ...rest) => {
            for (const r of (res as SubmitStreamResponse).batch?.runs ?? []) m.submitted(r.run, r.deduplicated);
            return write(res, ...rest);
          };
        }
        h(call);
      }) as handleServerStreamingCall<unknown, unknown>;
      continue;
    }
    const h = handler as handleUnaryCall<unknown, unknown>;
    const counted =
      key === "submit"
        ? (res: unknown) => m.submitted((res as SubmitResponse).run, (res as SubmitResponse).deduplicated)
        : key === "submitBatch"
          ? (res: unknown) => {
              for (const r of (res as SubmitBatchResponse).runs) m.submitted(r.run, r.deduplicated);
            }
          : undefined;
    out[key] = ((call, cb) => {
      const start = performance.now();
      h(call, (err, res, ...rest) => {
        observe(method, err ? (err.code ?? Status.UNKNOWN) : Status.OK, (performance.now() - start) / 1000);
        if (!err && res && counted) counted(res);
        cb(err, res, ...rest);
      });
    }) as handleUnaryCall<unknown, unknown>;
  }
  return { ...service, ...out } as TaskServiceServer;
}
