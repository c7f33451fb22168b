// A bare WorkerService client for tests: speaks the worker protocol
// (proto/taskwire/v1/worker.proto) with the generated grpc-js stub and
// nothing else, the way a worker in any language would.
import { type ClientDuplexStream, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { type ConnectRequest, type ConnectResponse, type RunAssignment, type WorkerHello, WorkerServiceClient, type WorkerWelcome, type CancelNotice } from "@taskwire/protocol";

/** A queue of values that can be awaited one at a time. */
class Inbox<T> {
  readonly #items: T[] = [];
  #waiters: Array<(v: T) => void> = [];
  push(v: T): void {
    const w = this.#waiters.shift();
    if (w) w(v);
    else this.#items.push(v);
  }
  next(timeoutMs: number, what: string): Promise<T> {
    const v = this.#items.shift();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.#waiters = this.#waiters.filter((x) => x !== take);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const take = (x: T): void => {
        clearTimeout(t);
        resolve(x);
      };
      this.#waiters.push(take);
    });
  }
  get size(): number {
    return this.#items.length;
  }
}

export interface RawWorkerOptions {
  address: string;
  hello: Partial<WorkerHello> & { tasks: WorkerHello["tasks"] };
  /** Send heartbeats at the interval the broker asks for. @default true */
  heartbeat?: boolean;
  token?: string;
}

/** One Connect stream, its welcome, assignments and cancel notices, and how it ended. */
export class RawWorker {
  readonly client: WorkerServiceClient;
  readonly call: ClientDuplexStream<ConnectRequest, ConnectResponse>;
  readonly assignments = new Inbox<RunAssignment>();
  readonly cancels = new Inbox<CancelNotice>();
  readonly welcome: Promise<WorkerWelcome>;
  /** Resolves with the status the stream ended with (code 0 = OK). */
  readonly ended: Promise<{ code: number; details: string }>;
  #beat: NodeJS.Timeout | undefined;

  constructor(readonly options: RawWorkerOptions) {
    this.client = new WorkerServiceClient(options.address, credentials.createInsecure());
    const md = new Metadata();
    if (options.token) md.set("authorization", `Bearer ${options.token}`);
    this.call = this.client.connect(md);
    let welcomed!: (w: WorkerWelcome) => void;
    let failed!: (e: Error) => void;
    this.welcome = new Promise<WorkerWelcome>((res, rej) => {
      welcomed = res;
      failed = rej;
    });
    this.ended = new Promise((resolve) => {
      this.call.on("status", (s: { code: number; details: string }) => {
        clearInterval(this.#beat);
        failed(new Error(`stream ended before the welcome: ${s.code} ${s.details}`));
        resolve({ code: s.code, details: s.details });
      });
    });
    this.call.on("error", (_e: ServiceError) => undefined);
    this.call.on("data", (res: ConnectResponse) => {
      if (res.welcome) {
        welcomed(res.welcome);
        if (options.heartbeat !== false) this.#beat = setInterval(() => this.send({ heartbeat: { running: [], freeSlots: 0 } }), Number(res.welcome.heartbeatIntervalMs));
      } else if (res.assignment) this.assignments.push(res.assignment);
      else if (res.cancel) this.cancels.push(res.cancel);
    });
    this.send({ hello: { workerId: "", queues: [], concurrency: 1, sdk: "taskwire-test", running: [], ...options.hello } });
  }

  send(req: ConnectRequest): void {
    this.call.write(req);
  }

  complete(a: RunAssignment, value: unknown): void {
    this.send({ finished: { runId: a.runId, attempt: a.attempt, result: { contentType: "application/json", data: Buffer.from(JSON.stringify(value)) } } });
  }

  fail(a: RunAssignment, type: string, message: string, retryable = true, retryAfterMs?: number): void {
    this.send({ finished: { runId: a.runId, attempt: a.attempt, failure: { failure: { type, message, stack: "", retryable }, retryAfterMs } } });
  }

  /** Stops heartbeating (a hung worker: the stream stays open). */
  freeze(): void {
    clearInterval(this.#beat);
  }

  /** Half-closes the stream (a worker that is done). */
  close(): void {
    clearInterval(this.#beat);
    this.call.end();
  }

  /** Drops the stream at once (a worker killed mid-run). */
  kill(): void {
    clearInterval(this.#beat);
    this.call.cancel();
    this.client.close();
  }
}
