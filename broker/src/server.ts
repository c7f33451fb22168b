import { hostname } from "node:os";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { isIP } from "node:net";
import { HealthImplementation } from "grpc-health-check";
import { encodeSubmitResponse, SubmitResponse, TaskServiceService, WorkerServiceService } from "@taskwire/protocol";
import { ConfigError, ensureResources, type HttpServer, NatsHandle, QUEUE_METRICS_LEASE_KEY } from "@taskwire/core";
import type { Logger } from "pino";
import { type BrokerConfig, configFromEnv } from "./config.js";
import { Authenticator } from "./auth/index.js";
import { EventStreamer } from "./events.js";
import { guardDeserializers } from "./decode.js";
import { PeerLimits } from "./peer-limits.js";
import { createLogger } from "./logger.js";
import { Runs } from "./runs.js";
import { Reconciler } from "./reconciler.js";
import { Scheduler } from "./scheduler.js";
import { CronSchedules } from "./cron.js";
import { Automations } from "./automations/index.js";
import { authorizationOf, createService, submitStreamHandler } from "./service.js";
import { SubmitStreams } from "./submit-stream.js";
import { createWorkerService, RemoteWorkers } from "./workers/index.js";
import { TlsFileProvider } from "./tls.js";
import type { ApiDeps } from "./http/api.js";
import { startBrokerHttp } from "./http/server.js";
import { instrumentService } from "./instrument.js";
import { Lease } from "./lease.js";
import { BrokerMetrics } from "./metrics.js";
import { QueueStats } from "./queues.js";
import { reflectionService } from "./reflection.js";

const SERVICE_NAME = "taskwire.v1.TaskService";
const WORKER_SERVICE_NAME = "taskwire.v1.WorkerService";

/**
 * The generated service definition, with Submit's answer serialised from
 * the run bytes Submit already encoded for NATS (`SubmitResult.encodedRun`)
 * instead of encoding the run a second time.
 */
function serviceDefinition(): typeof TaskServiceService {
  return guardDeserializers({
    ...TaskServiceService,
    submit: {
      ...TaskServiceService.submit,
      responseSerialize: (value: SubmitResponse & { encodedRun?: Uint8Array }): Buffer =>
        value.encodedRun ? encodeSubmitResponse(value.encodedRun, value.deduplicated) : Buffer.from(SubmitResponse.encode(value).finish()),
    },
  });
}

/** True for addresses only this host can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  return h === "::1" || h === "::ffff:127.0.0.1";
}

/**
 * The taskwire broker: a stateless gRPC server in front of NATS JetStream.
 * Any number of replicas can run side by side.
 */
export class Broker {
  readonly config: BrokerConfig;
  readonly log: Logger;
  #server: Server | undefined;
  #nats: NatsHandle | undefined;
  #events: EventStreamer | undefined;
  #submitStreams: SubmitStreams | undefined;
  #scheduler: Scheduler | undefined;
  #reconciler: Reconciler | undefined;
  #workers: RemoteWorkers | undefined;
  #cron!: CronSchedules;
  #automations: Automations | undefined;
  #inflight = { count: 0 };
  #port = 0;
  #auth: Authenticator | undefined;
  #tls: TlsFileProvider | undefined;
  #http: HttpServer | undefined;
  #api: ApiDeps | undefined;
  #lease: Lease | undefined;
  #stopping = false;
  /** Prometheus metrics of this broker (served on /metrics). */
  readonly metrics: BrokerMetrics;

  constructor(config: Partial<BrokerConfig> = {}, log?: Logger) {
    this.config = configFromEnv(config);
    this.log = log ?? createLogger("taskwire-broker", this.config.logLevel);
    this.metrics = new BrokerMetrics(() => this.#nats, this.log);
  }

  /** The bound HTTP address (`host:port`), or "" when HTTP is off or not started. */
  get httpAddress(): string {
    return this.#http?.address ?? "";
  }

  /**
   * Starts the HTTP port first, so /healthz answers (and /readyz says why
   * not ready) while NATS is still being reached. Its API is as open as
   * gRPC: a non-loopback HTTP address needs auth, or --insecure.
   */
  async #startHttp(): Promise<void> {
    const c = this.config;
    if (!c.http) return;
    const host = c.http.slice(0, c.http.lastIndexOf(":"));
    const loopback = isLoopback(host);
    if (!loopback && !this.#auth?.enabled && !c.insecure) {
      throw new ConfigError(
        `refusing to serve HTTP on ${c.http} without auth: its JSON API reads and changes runs like gRPC. Configure auth (see docs/security.md), keep --http on a loopback address, turn it off (--http off), or pass --insecure / TASKWIRE_INSECURE=true if a trusted network or proxy protects the port`,
      );
    }
    this.#http = await startBrokerHttp({
      listen: c.http,
      loopback,
      maxPayloadBytes: c.maxPayloadBytes,
      traceUrl: c.uiTraceUrl,
      uiDir: c.uiDir,
      metrics: this.metrics,
      log: this.log,
      readiness: () => {
        const checks = { nats: this.#nats?.connected ?? false, started: this.#api !== undefined, serving: !this.#stopping };
        return { ready: Object.values(checks).every(Boolean), checks };
      },
      api: () => this.#api,
    });
    this.log.info({ http: this.#http.address }, "taskwire broker HTTP listening (/metrics, /healthz, /readyz, /v1/, /ui/)");
  }

  /** The bound port (useful with listen "127.0.0.1:0"). */
  get port(): number {
    return this.#port;
  }

  get address(): string {
    const host = this.config.listen.slice(0, this.config.listen.lastIndexOf(":"));
    return `${host}:${this.#port}`;
  }

  /** Checks the security settings before anything starts: TLS files, auth sources, the loopback rule. */
  #secure(): ServerCredentials {
    const c = this.config;
    if (!!c.tlsCert !== !!c.tlsKey) throw new ConfigError(`invalid configuration:\n  TLS needs both TASKWIRE_TLS_CERT and TASKWIRE_TLS_KEY (--tls-cert, --tls-key); only ${c.tlsCert ? "the certificate" : "the key"} is set`);
    if (c.tlsClientCa && !c.tlsCert) throw new ConfigError("invalid configuration:\n  TASKWIRE_TLS_CLIENT_CA (mTLS) needs TASKWIRE_TLS_CERT and TASKWIRE_TLS_KEY too");
    this.#auth = new Authenticator(
      { jwksFile: c.authJwksFile, jwksUrl: c.authJwksUrl, jwtSecret: c.authJwtSecret, issuer: c.authIssuer, audience: c.authAudience, tokensFile: c.authTokensFile, namespaceClaim: c.authNamespaceClaim },
      this.log,
    );
    const host = c.listen.slice(0, c.listen.lastIndexOf(":"));
    const tls = !!(c.tlsCert && c.tlsKey);
    const loopback = isLoopback(host);
    const missing = [tls ? "" : "TLS (--tls-cert/--tls-key)", this.#auth.enabled ? "" : "auth (TASKWIRE_AUTH_JWKS_FILE, _JWKS_URL, _JWT_SECRET or _TOKENS_FILE)"].filter(Boolean);
    if (!loopback && missing.length > 0) {
      if (!c.insecure) {
        this.#auth.close();
        throw new ConfigError(
          `refusing to serve ${c.listen} without ${missing.join(" and ")}: anyone who reaches this address could read and change every run. ` +
            "Configure them (see docs/security.md), listen on a loopback address (--listen 127.0.0.1:50051), or pass --insecure / TASKWIRE_INSECURE=true if a trusted network or proxy protects the port",
        );
      }
      this.log.warn({ listen: c.listen, missing }, `serving ${c.listen} without ${missing.join(" and ")} because --insecure / TASKWIRE_INSECURE=true: every caller who reaches it is trusted`);
    } else if (!this.#auth.enabled) {
      this.log.warn({ listen: c.listen }, "no auth configured: serving on loopback only, every local caller has every scope in namespace \"default\" (see docs/security.md)");
    }
    if (!tls) return ServerCredentials.createInsecure();
    this.#tls = new TlsFileProvider({ cert: c.tlsCert ?? "", key: c.tlsKey ?? "", clientCa: c.tlsClientCa }, this.log);
    return this.#tls.credentials();
  }

  async start(): Promise<void> {
    const credentials = this.#secure();
    let nats: NatsHandle;
    try {
      await this.#startHttp();
      nats = await NatsHandle.connect({ servers: this.config.natsUrl.split(","), name: "taskwire-broker" });
    } catch (err) {
      await this.#http?.close(0);
      this.#auth?.close();
      this.#tls?.close();
      throw err;
    }
    this.#nats = nats;
    try {
      await this.#start(nats, credentials);
    } catch (err) {
      // E.g. the listen address is taken: leave nothing running behind.
      await this.#scheduler?.stop().catch(() => undefined);
      await this.#reconciler?.stop().catch(() => undefined);
      await this.#automations?.stop().catch(() => undefined);
      this.#workers?.stop();
      await this.#lease?.stop().catch(() => undefined);
      this.#server?.forceShutdown();
      this.#server = undefined;
      this.#api = undefined;
      await this.#http?.close(0);
      this.#auth?.close();
      this.#tls?.close();
      await nats.close();
      throw err;
    }
  }

  async #start(nats: NatsHandle, credentials: ServerCredentials): Promise<void> {
    const { runs: runsKv, idempotency, cache, limits, results, schedules, workers: workersKv, automations, automationState } = await ensureResources(nats, { replicas: this.config.replicas, retentionMs: this.config.retentionMs, log: this.log });
    const runs = new Runs(nats, runsKv, idempotency, cache, results, this.config.maxPayloadBytes, this.config.retentionMs, new PeerLimits("waiting GetStatus calls", this.config.maxWaitsPerConnection, "TASKWIRE_MAX_WAITS_PER_CONNECTION"), { scanLimit: this.config.listScanLimit, clockSkewMs: this.config.listClockSkewMs });
    this.#cron = new CronSchedules(schedules, runs, this.log);
    const c0 = this.config;
    this.#automations = new Automations(
      nats,
      { automations, automationState, store: runs.store, cache, results, limits },
      runs,
      this.#cron,
      new QueueStats(nats, workersKv),
      { enabled: c0.automations, allow: c0.automationAllow, concurrency: c0.automationConcurrency, heartbeatMs: c0.workerHeartbeatMs },
      this.log,
    );
    this.#events = new EventStreamer(runs, this.log, new PeerLimits("StreamEvents calls", this.config.maxStreamsPerConnection, "TASKWIRE_MAX_STREAMS_PER_CONNECTION"));
    const health = new HealthImplementation({ "": "SERVING", [SERVICE_NAME]: "SERVING", [WORKER_SERVICE_NAME]: "SERVING" });
    nats.onChange((connected) => {
      const s = connected ? "SERVING" : "NOT_SERVING";
      health.setStatus("", s);
      health.setStatus(SERVICE_NAME, s);
      health.setStatus(WORKER_SERVICE_NAME, s);
      this.log[connected ? "info" : "warn"]({ connected }, connected ? "NATS reconnected" : "NATS connection lost; answering UNAVAILABLE until it returns");
    });

    const server = new Server({
      "grpc.max_receive_message_length": Math.max(4 * 1024 * 1024, this.config.maxPayloadBytes * 4 + 1024 * 1024),
      "grpc.keepalive_time_ms": 60_000,
      "grpc.keepalive_permit_without_calls": 1,
      // Channelz (grpc's introspection service) is not served here; its
      // per-call bookkeeping was 5 % of the broker's Submit CPU.
      "grpc.enable_channelz": 0,
    });
    const definition = serviceDefinition();
    // Metrics wrap the handlers once; gRPC and the JSON API both call the wrapped ones.
    const auth0 = this.#auth ?? new Authenticator();
    this.#submitStreams = new SubmitStreams(submitStreamHandler({ runs, log: this.log, maxPayloadBytes: this.config.maxPayloadBytes, auth: auth0 }), this.#inflight, this.log);
    const service = instrumentService(createService(runs, this.#events, this.#cron, this.log, this.config.maxPayloadBytes, this.#inflight, this.#submitStreams, auth0, this.#automations.store), this.metrics);
    server.addService(definition, service);
    // Workers in any language execute runs through WorkerService; the broker
    // does their NATS side with the TS worker's own helpers (core/src/exec).
    const c = this.config;
    const workers = new RemoteWorkers(nats, { store: runs.store, cache, results, limits, workers: workersKv }, { heartbeatMs: c.workerHeartbeatMs, maxResultBytes: c.workerMaxResultBytes, inlineResultBytes: c.workerInlineResultBytes, maxCrashRetries: c.workerMaxCrashRetries }, this.log);
    this.#workers = workers;
    workers.start();
    const auth = this.#auth;
    server.addService(WorkerServiceService, createWorkerService(workers, this.log, auth && ((md, method) => auth.authorize(authorizationOf(md), "workers", method))));
    health.addToServer(server);
    if (this.config.reflection) reflectionService([SERVICE_NAME, WORKER_SERVICE_NAME, "grpc.health.v1.Health"]).addToServer(server);
    else this.log.debug("server reflection is off (TASKWIRE_REFLECTION=false)");
    this.#port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(this.config.listen, credentials, (err, port) =>
        err
          ? reject(/EADDRINUSE/.test(err.message) ? new Error(`cannot listen on ${this.config.listen}: the address is in use; stop the process using it or pick another with --listen / TASKWIRE_LISTEN`, { cause: err }) : err)
          : resolve(port),
      ),
    );
    this.#server = server;
    // One broker exports the queue gauges: every broker reads the same JetStream numbers.
    const queues = new QueueStats(nats, workersKv);
    const lease = new Lease(limits, QUEUE_METRICS_LEASE_KEY, `${hostname()}-${process.pid}-${this.#port}`, this.log);
    this.#lease = lease;
    await lease.start();
    this.metrics.setQueues({ stats: queues, exporting: () => lease.held });
    this.#api = { service, definition, auth: this.#auth, queues, workers: workersKv };
    if (this.config.scheduler) {
      this.#scheduler = new Scheduler(nats, runs.store, this.log);
      await this.#scheduler.start();
      await this.#cron.start();
    }
    // Every broker puts back in play the runs nothing would move forward (no leader: compare-and-set).
    this.#reconciler = new Reconciler(nats, runs.store, this.log, `reconciler@${hostname()}-${process.pid}`);
    await this.#reconciler.start();
    // Automations: every broker matches events and executes action runs (no leader; see automations/engine.ts).
    await this.#automations.start();
    this.log.info({ listen: this.address, nats: this.config.natsUrl, tls: this.#tls ? (this.config.tlsClientCa ? "mTLS" : "TLS") : "off", auth: this.#auth?.enabled ? "on" : "off" }, "taskwire broker listening");
  }

  /**
   * Graceful stop: refuse new calls, end event streams (clients resume with
   * their cursor), wait for in-flight unary calls up to the grace period,
   * then close NATS.
   */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    this.#stopping = true;
    // Event streams end first (gRPC and server-sent events alike): clients resume elsewhere with their cursor.
    this.#events?.closeAll();
    // Submit streams answer what they are handling, then end (UNAVAILABLE): clients send the rest again elsewhere.
    this.#submitStreams?.closeAll();
    // The HTTP port takes no new API calls and finishes its open ones within the same grace period.
    this.#api = undefined;
    const httpClosed = this.#http?.close(this.config.shutdownGraceMs);
    this.#workers?.stop();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ inflight: this.#inflight.count }, "grace period over; closing remaining calls");
        server.forceShutdown();
        resolve();
      }, this.config.shutdownGraceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await httpClosed;
    this.#cron?.stop();
    await this.#scheduler?.stop();
    await this.#reconciler?.stop();
    await this.#automations?.stop();
    await this.#lease?.stop();
    this.#auth?.close();
    this.#tls?.close();
    await this.#nats?.close();
    this.log.info("taskwire broker stopped");
  }
}
