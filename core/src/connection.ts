import { Socket } from "node:net";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { JsWire } from "./wire.js";
import { type NatsAuth, natsAuthFromEnv, natsConnectionAuth } from "./nats-auth.js";

export interface NatsOptions {
  /** Server URL(s). @default "nats://127.0.0.1:4222" (env TASKWIRE_NATS_URL) */
  servers?: string | string[];
  /** Connection name shown by the server's monitoring. */
  name?: string;
  /** Timeout of JetStream API requests and publishes, in ms. @default 5000 */
  requestTimeoutMs?: number;
  /** Credentials and TLS. @default from TASKWIRE_NATS_USER/PASSWORD/TOKEN/NKEY_FILE/CREDS_FILE/TLS_CA/TLS_CERT/TLS_KEY */
  auth?: NatsAuth;
}

/**
 * A NATS connection that reconnects forever and tracks whether it is
 * connected, so callers can fail fast (UNAVAILABLE) instead of waiting for a
 * request timeout while the server is gone.
 */
export class NatsHandle {
  #connected = true;
  readonly #listeners = new Set<(connected: boolean) => void>();
  readonly #waiters: Array<() => void> = [];
  /** The hot path's JetStream requests (publish, KV compare-and-set, direct get) without nats.js's per-request overhead. */
  readonly wire: JsWire;
  readonly #coalesce: boolean;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    timeoutMs: number,
  ) {
    this.wire = new JsWire(nc, timeoutMs);
    this.#coalesce = process.env.TASKWIRE_NATS_COALESCE_WRITES !== "0";
    if (this.#coalesce) coalesceWrites(nc);
    void this.#watchStatus();
  }

  static async connect(opts: NatsOptions = {}): Promise<NatsHandle> {
    const servers = opts.servers ?? process.env.TASKWIRE_NATS_URL ?? "nats://127.0.0.1:4222";
    const nc = await connectOrExplain({
      ...natsConnectionAuth(opts.auth ?? natsAuthFromEnv()),
      servers,
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
      pingInterval: 5_000,
      maxPingOut: 2,
      // nats.js otherwise builds a stack-carrying error for every request up
      // front, in case it times out: ~25 % of broker and worker CPU in profiles.
      noAsyncTraces: true,
    });
    const timeout = opts.requestTimeoutMs ?? 5_000;
    const js = jetstream(nc, { timeout });
    // No JetStream API check here: a cluster still forming has no meta leader
    // to answer it yet. `ensureResources` asks, and waits for it.
    const jsm = await jetstreamManager(nc, { timeout, checkAPI: false });
    return new NatsHandle(nc, js, jsm, timeout);
  }

  get connected(): boolean {
    return this.#connected && !this.nc.isClosed();
  }

  /**
   * Resolves true at once when connected, else when the connection comes
   * back within `ms` (a reconnect to another cluster node takes
   * milliseconds), else false.
   */
  async waitConnected(ms: number): Promise<boolean> {
    if (this.connected) return true;
    if (this.nc.isClosed() || ms <= 0) return false;
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    const ok = await new Promise<boolean>((resolve) => {
      wake = () => resolve(true);
      this.#waiters.push(wake);
      timer = setTimeout(() => resolve(false), ms);
    });
    clearTimeout(timer);
    const i = wake ? this.#waiters.indexOf(wake) : -1;
    if (i >= 0) this.#waiters.splice(i, 1);
    return ok && this.connected;
  }

  /** Calls `fn` on every connected/disconnected change; returns an unsubscribe function. */
  onChange(fn: (connected: boolean) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      let next = this.#connected;
      if (s.type === "disconnect" || s.type === "reconnecting" || s.type === "staleConnection") next = false;
      if (s.type === "reconnect") {
        next = true;
        if (this.#coalesce) coalesceWrites(this.nc); // a new socket
      }
      if (next !== this.#connected) {
        this.#connected = next;
        // The wire first: its requests in flight lost their replies with the socket.
        this.wire.setConnected(next);
        for (const fn of this.#listeners) fn(next);
        if (next) for (const wake of this.#waiters.splice(0)) wake();
      }
    }
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return this.wire.close();
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    } finally {
      this.wire.close();
    }
  }
}

/**
 * `connect`, but a server that refuses the credentials or the TLS handshake
 * is reported at once with what to check, instead of being retried
 * forever (waitOnFirstConnect retries only what may heal by itself).
 */
async function connectOrExplain(opts: Parameters<typeof connect>[0]): Promise<NatsConnection> {
  try {
    if (opts?.tls) {
      // A refused TLS handshake (no or a wrong client certificate, an
      // untrusted server) is retried forever by a connect that waits for
      // the server: one plain attempt first turns it into an error now.
      // A server that is not up yet only fails this attempt.
      const probe = await connect({ ...opts, waitOnFirstConnect: false, reconnect: false, maxReconnectAttempts: 0 }).catch((err: unknown) => {
        const msg = err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? "")}` : String(err);
        if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|timeout/i.test(msg)) return undefined;
        throw err;
      });
      await probe?.close();
    }
    return await connect(opts);
  } catch (err) {
    const msg = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ").trim();
    if (/authorization|authentication|permissions/i.test(msg)) {
      throw new Error(`NATS refused the credentials (${msg}): check TASKWIRE_NATS_USER/PASSWORD, TASKWIRE_NATS_TOKEN, TASKWIRE_NATS_NKEY_FILE or TASKWIRE_NATS_CREDS_FILE (docs/security.md)`, { cause: err });
    }
    // A server that verifies client certificates may reset the connection
    // before its alert ("certificate required", or "bad certificate" from
    // nats-server 2.9) reaches us.
    if (/tls|certificate|ssl|self.signed|handshake/i.test(msg) || (opts?.tls && /ECONNRESET|socket hang up|EPIPE/.test(msg))) {
      throw new Error(`TLS to NATS failed (${msg}): check TASKWIRE_NATS_TLS_CA (and TASKWIRE_NATS_TLS_CERT/KEY if the server verifies clients) and that the URL's host matches the server's certificate`, { cause: err });
    }
    throw err;
  }
}

const coalesced = new WeakSet<Socket>();

/**
 * Makes the connection's socket send what one event-loop turn wrote in one
 * syscall. nats.js flushes its outbound buffer once per microtask
 * checkpoint, and Node runs a checkpoint after every I/O callback, so a
 * broker answering 64 Submits read in one go made 64 socket writes (11–15 %
 * of its CPU in `writeBuffer`). Here the first write of a turn corks the
 * socket and a `setImmediate` uncorks it at the end of the same turn's
 * I/O phase: the bytes and their order are unchanged, they just leave
 * together, microseconds later. A no-op when nats.js's internals are not
 * where version 3.4 keeps them; `TASKWIRE_NATS_COALESCE_WRITES=0` turns it off.
 */
function coalesceWrites(nc: NatsConnection): void {
  const socket = (nc as unknown as { protocol?: { transport?: { socket?: unknown } } }).protocol?.transport?.socket;
  if (!(socket instanceof Socket) || coalesced.has(socket)) return;
  coalesced.add(socket);
  const write = socket.write;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket["write"]>): boolean {
    if (!corked) {
      corked = true;
      this.cork();
      setImmediate(uncork);
    }
    return write.apply(this, args);
  } as Socket["write"];
}
