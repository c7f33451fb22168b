import { hostname } from "node:os";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import { encodeSubmitResponse, protoDir, SubmitResponse, TaskServiceService } from "@taskwire/protocol";
import { ensureResources, NatsHandle } from "@taskwire/core";
import type { Logger } from "pino";
import { type BrokerConfig, configFromEnv } from "./config.js";
import { EventStreamer } from "./events.js";
import { createLogger } from "./logger.js";
import { Runs } from "./runs.js";
import { Reconciler } from "./reconciler.js";
import { Scheduler } from "./scheduler.js";
import { CronSchedules } from "./cron.js";
import { createService } from "./service.js";

const SERVICE_NAME = "taskwire.v1.TaskService";

/**
 * The generated service definition, with Submit's answer serialised from
 * the run bytes Submit already encoded for NATS (`SubmitResult.encodedRun`)
 * instead of encoding the run a second time.
 */
function serviceDefinition(): typeof TaskServiceService {
  return {
    ...TaskServiceService,
    submit: {
      ...TaskServiceService.submit,
      responseSerialize: (value: SubmitResponse & { encodedRun?: Uint8Array }): Buffer =>
        value.encodedRun ? encodeSubmitResponse(value.encodedRun, value.deduplicated) : Buffer.from(SubmitResponse.encode(value).finish()),
    },
  };
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
  #scheduler: Scheduler | undefined;
  #reconciler: Reconciler | undefined;
  #cron!: CronSchedules;
  #inflight = { count: 0 };
  #port = 0;

  constructor(config: Partial<BrokerConfig> = {}, log?: Logger) {
    this.config = configFromEnv(config);
    this.log = log ?? createLogger("taskwire-broker", this.config.logLevel);
  }

  /** The bound port (useful with listen "127.0.0.1:0"). */
  get port(): number {
    return this.#port;
  }

  get address(): string {
    const host = this.config.listen.slice(0, this.config.listen.lastIndexOf(":"));
    return `${host}:${this.#port}`;
  }

  async start(): Promise<void> {
    const nats = await NatsHandle.connect({ servers: this.config.natsUrl.split(","), name: "taskwire-broker" });
    this.#nats = nats;
    try {
      await this.#start(nats);
    } catch (err) {
      // E.g. the listen address is taken: leave nothing running behind.
      await this.#scheduler?.stop().catch(() => undefined);
      await this.#reconciler?.stop().catch(() => undefined);
      this.#server?.forceShutdown();
      this.#server = undefined;
      await nats.close();
      throw err;
    }
  }

  async #start(nats: NatsHandle): Promise<void> {
    const { runs: runsKv, idempotency, cache, results, schedules } = await ensureResources(nats, { replicas: this.config.replicas, retentionMs: this.config.retentionMs });
    const runs = new Runs(nats, runsKv, idempotency, cache, results, this.config.maxPayloadBytes);
    this.#cron = new CronSchedules(schedules, runs, this.log);
    this.#events = new EventStreamer(runs, this.log);
    const health = new HealthImplementation({ "": "SERVING", [SERVICE_NAME]: "SERVING" });
    nats.onChange((connected) => {
      const s = connected ? "SERVING" : "NOT_SERVING";
      health.setStatus("", s);
      health.setStatus(SERVICE_NAME, s);
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
    server.addService(serviceDefinition(), createService(runs, this.#events, this.#cron, this.log, this.config.maxPayloadBytes, this.#inflight));
    health.addToServer(server);
    const dir = protoDir();
    if (dir) {
      const pkg = loadSync(["taskwire/v1/taskwire.proto"], { includeDirs: [dir], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
      new ReflectionService(pkg).addToServer(server);
    } else {
      this.log.warn("proto/ not found (set TASKWIRE_PROTO_DIR); server reflection is off");
    }
    this.#port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(this.config.listen, ServerCredentials.createInsecure(), (err, port) =>
        err
          ? reject(/EADDRINUSE/.test(err.message) ? new Error(`cannot listen on ${this.config.listen}: the address is in use; stop the process using it or pick another with --listen / TASKWIRE_LISTEN`, { cause: err }) : err)
          : resolve(port),
      ),
    );
    this.#server = server;
    if (this.config.scheduler) {
      this.#scheduler = new Scheduler(nats, runs.store, this.log);
      await this.#scheduler.start();
      await this.#cron.start();
    }
    // Every broker puts back in play the runs nothing would move forward (no leader: compare-and-set).
    this.#reconciler = new Reconciler(nats, runs.store, this.log, `reconciler@${hostname()}-${process.pid}`);
    await this.#reconciler.start();
    this.log.info({ listen: this.address, nats: this.config.natsUrl }, "taskwire broker listening");
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
    this.#events?.closeAll();
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
    this.#cron?.stop();
    await this.#scheduler?.stop();
    await this.#reconciler?.stop();
    await this.#nats?.close();
    this.log.info("taskwire broker stopped");
  }
}
