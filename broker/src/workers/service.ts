import { type Metadata, type ServerDuplexStream, status as Status } from "@grpc/grpc-js";
import type { ConnectRequest, ConnectResponse, WorkerServiceServer } from "@taskwire/protocol";
import type { Logger } from "pino";
import { BrokerError, toServiceError } from "../errors.js";
import { validateHello } from "./hello.js";
import type { RemoteWorkers } from "./registry.js";
import type { RemoteSession, SessionOutput } from "./session.js";

/** Who a worker's stream belongs to: its namespace (runs of other namespaces are not its to execute). */
export interface WorkerCaller {
  subject: string;
  namespace: string;
}

/**
 * The auth hook of WorkerService: turns a stream's metadata into its
 * caller, or throws (UNAUTHENTICATED / PERMISSION_DENIED as a BrokerError).
 * The broker passes its authenticator's check of the scope "workers"; with
 * no auth configured every worker is the anonymous caller of namespace
 * "default".
 */
export type AuthorizeWorker = (metadata: Metadata, method: string) => Promise<WorkerCaller>;

export const ANONYMOUS_WORKER: WorkerCaller = { subject: "anonymous", namespace: "default" };

/**
 * `taskwire.v1.WorkerService`: one RemoteSession per Connect stream. The
 * first message must be a WorkerHello; until the session has started,
 * later messages wait in order, so nothing the worker says is lost or
 * reordered.
 */
export function createWorkerService(workers: RemoteWorkers, log: Logger, authorize: AuthorizeWorker = async () => ANONYMOUS_WORKER): WorkerServiceServer {
  return {
    connect(call: ServerDuplexStream<ConnectRequest, ConnectResponse>): void {
      let session: RemoteSession | undefined;
      let pending: ConnectRequest[] | undefined = [];
      let ended = false;
      const out: SessionOutput = {
        peer: call.getPeer(),
        send: (msg) => {
          if (!ended) call.write(msg);
        },
        end: (status) => {
          if (ended) return;
          ended = true;
          if (status) call.emit("error", { code: status.code, details: status.details, message: status.details });
          else call.end();
        },
      };
      const fail = (err: unknown): void => {
        const se = toServiceError(err);
        if (se.code === Status.INTERNAL || se.code === Status.UNAVAILABLE) log.warn({ err }, se.details);
        else log.debug({ code: se.code }, se.details);
        // The status first: ending the session ends the stream too (with OK).
        out.end({ code: se.code ?? Status.INTERNAL, details: se.details ?? "internal error" });
        session?.end({ failed: se.details ?? "failed" });
      };
      const open = async (first: ConnectRequest): Promise<void> => {
        const caller = await authorize(call.metadata, "Connect");
        const spec = validateHello(first.hello);
        if (ended) return;
        const s = await workers.open(spec, caller.namespace, out);
        session = s;
        const queued = pending ?? [];
        pending = undefined;
        for (const req of queued.slice(1)) s.receive(req);
      };
      call.on("data", (req: ConnectRequest) => {
        if (ended) return;
        if (session) {
          session.receive(req);
          return;
        }
        if (!pending) return;
        pending.push(req);
        if (pending.length === 1) open(req).catch(fail);
      });
      call.on("end", () => {
        if (session) session.end({ closed: "the worker closed the stream" });
        else if (!ended) fail(BrokerError.invalid("hello", "the stream ended before a WorkerHello"));
      });
      call.on("error", () => session?.end({ closed: "the stream failed" }));
      call.on("cancelled", () => session?.end({ closed: "the stream was cancelled" }));
    },
  };
}
