import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Subscription } from "@nats-io/transport-node";
import { isTaskDefinition, type AnyTaskDefinition } from "@taskwire/client";
import { AckBatcher, CANCEL_SUBJECT_PREFIX, ensureResources, ensureTaskConsumer, Heartbeats, type Holders, HttpServer, KeySlots, NatsHandle, opsHandler, PRIORITY_LEVELS, type PriorityLevel, RateLimiter, RUNS_STREAM, RunStore, whileJetStreamNotReady } from "@taskwire/core";
import { pino, type Logger } from "pino";
import { type ExecDeps, executeRun } from "./execute.js";
import { resolveOptions, type ResolvedWorkerOptions, type WorkerOptions } from "./options.js";
import { Slots } from "./slots.js";
import { WorkerMetrics } from "./metrics.js";
import { Presence } from "./presence.js";

/** Any task definition, whatever its argument and result types. */
export type AnyTask = AnyTaskDefinition;

/** First and largest pause before a consume loop that ended is opened again, in ms. */
const CONSUME_REOPEN_MS = [250, 5_000] as const;
/** Delay of the nak that hands back a message whose run could not be claimed or recorded, in ms (NATS is failing: not at once). */
const WRITE_FAILED_NAK_MS = 1_000;

/** A consume loop's count of messages waiting in the buffers, and how to wake it. */
interface Source {
  count: number;
  wake: (() => void) | undefined;
}

/** A delivered message waiting for a slot. */
interface Held {
  m: JsMsg;
  def: AnyTask;
  src: Source;
}

/** Counters a worker keeps about itself. */
export interface WorkerStats {
  started: number;
  finished: number;
  running: number;
}

/**
 * A worker: pulls runs of the tasks it serves, executes up to
 * `concurrency` at once, heartbeats, records outcomes, and drains on stop.
 */
export class Worker {
  readonly options: ResolvedWorkerOptions;
  readonly log: Logger;
  readonly tasks: Map<string, AnyTask>;
  readonly stats: WorkerStats = { started: 0, finished: 0, running: 0 };
  #nats: NatsHandle | undefined;
  #slots: Slots;
  #heartbeats: Heartbeats | undefined;
  #streams = new Set<ConsumerMessages>();
  #loops: Promise<void>[] = [];
  #running = new Set<Promise<void>>();
  readonly #buffers: Record<PriorityLevel, Held[]> = { high: [], normal: [], low: [] };
  readonly #sources = new Set<Source>();
  #aborts = new Map<string, (reason: string) => void>();
  /** Runs this worker executes now (claimed, until done with their message), for the holder probes of other workers' claims. */
  readonly #holding = new Map<string, JsMsg>();
  /** The run id each held message is about (until its execution ends). */
  readonly #holdOf = new Map<JsMsg, string>();
  readonly #holders: Holders = {
    isHeld: async (workerId, runId) => {
      if (workerId === this.options.workerId) return this.#holding.has(runId);
      const nats = this.#nats;
      return nats ? RunStore.isHeld(nats.nc, workerId, runId) : false;
    },
    hold: (runId, m) => {
      this.#holding.set(runId, m);
      this.#holdOf.set(m, runId);
    },
  };
  /** What every execution uses, made once the connection and stores are up. */
  #deps: ExecDeps | undefined;
  /** The same, acking each run at once: for tasks with a concurrencyLimit (their consumer's max_ack_pending counts unacked messages). */
  #depsAckAtOnce: ExecDeps | undefined;
  /** Holds the acks of finished runs for `ackDelayMs`, to send several in one write. */
  readonly #acks: AckBatcher;
  #cancelSub: Subscription | undefined;
  #holderSub: Subscription | undefined;
  #stopping: Promise<void> | undefined;
  #http: HttpServer | undefined;
  #presence: Presence | undefined;
  #started = false;
  /** Prometheus metrics of this worker (served on /metrics when `http` is set). */
  readonly metrics: WorkerMetrics;
  #stopped!: () => void;
  readonly #done = new Promise<void>((r) => (this.#stopped = r));

  constructor(tasks: readonly AnyTask[], options: WorkerOptions = {}) {
    if (tasks.length === 0) throw new Error("a worker needs at least one task: pass the definitions made with task()");
    this.tasks = new Map();
    for (const t of tasks) {
      if (!isTaskDefinition(t)) throw new Error(`not a task definition: ${String(t)}; make tasks with task(name, fn)`);
      const rl = t.options.rateLimit;
      if (rl && !(Number.isInteger(rl.limit) && rl.limit >= 1 && rl.limit <= 1000 && rl.intervalMs >= 1 && rl.intervalMs <= 86_400_000)) {
        throw new Error(`task "${t.taskName}": rateLimit needs limit 1–1000 and intervalMs 1–86400000, got ${JSON.stringify(rl)}`);
      }
      if (this.tasks.has(t.taskName)) throw new Error(`task "${t.taskName}" is defined twice`);
      this.tasks.set(t.taskName, t);
    }
    this.options = resolveOptions(options, `${hostname()}-${process.pid}-${randomBytes(2).toString("hex")}`);
    this.log = options.logger ?? pino({ name: "taskwire-worker", level: process.env.TASKWIRE_LOG_LEVEL || "info", base: { pid: process.pid, worker: this.options.workerId } });
    this.#slots = new Slots(this.options.concurrency);
    this.#acks = new AckBatcher(this.options.ackDelayMs);
    this.metrics = new WorkerMetrics(() => this.#nats, {
      inFlight: () => this.stats.running,
      freeSlots: () => Math.max(0, this.options.concurrency - this.stats.running),
      buffered: () => PRIORITY_LEVELS.reduce((n, l) => n + this.#buffers[l].length, 0),
    });
  }

  /** The bound HTTP address (`host:port`) of /metrics, /healthz and /readyz; "" when off. */
  get httpAddress(): string {
    return this.#http?.address ?? "";
  }

  /** Starts /metrics, /healthz and /readyz first, so a probe sees the worker start (and why it is not ready yet). */
  async #startHttp(): Promise<void> {
    if (!this.options.http) return;
    const readiness = () => {
      const checks = { nats: this.#nats?.connected ?? false, started: this.#started, serving: !this.#stopping };
      return { ready: Object.values(checks).every(Boolean), checks };
    };
    this.#http = await HttpServer.listen(this.options.http, [opsHandler(this.metrics.registry, readiness)], "TASKWIRE_WORKER_HTTP_LISTEN / --http", (err) => this.log.warn({ err }, "HTTP request failed"));
    this.log.info({ http: this.#http.address }, "worker HTTP listening (/metrics, /healthz, /readyz)");
  }

  get workerId(): string {
    return this.options.workerId;
  }

  /** Resolves once the worker has stopped (after stop() or a signal). */
  get done(): Promise<void> {
    return this.#done;
  }

  async start(): Promise<void> {
    const o = this.options;
    await this.#startHttp();
    let nats: NatsHandle;
    try {
      nats = await NatsHandle.connect({ servers: o.natsUrl.split(","), name: `taskwire-worker ${o.workerId}` });
    } catch (err) {
      await this.#http?.close(0);
      throw err;
    }
    this.#nats = nats;
    const { runs, cache, limits, results, workers } = await ensureResources(nats, { log: this.log });
    // What every execution uses.
    this.#deps = {
      store: new RunStore(runs, nats.wire),
      cache,
      rateLimiter: new RateLimiter(limits),
      results,
      keySlots: new KeySlots(limits, 2 * o.heartbeatMs),
      options: o,
      log: this.log,
      registerAbort: (id, abort) => {
        this.#aborts.set(id, abort);
        return () => this.#aborts.delete(id);
      },
      holders: this.#holders,
      metrics: this.metrics,
      acks: this.#acks,
    };
    this.#depsAckAtOnce = { ...this.#deps, acks: undefined };
    this.#heartbeats = new Heartbeats(o.heartbeatMs);
    // One subscription for all cancel notices; each names its run.
    this.#cancelSub = nats.nc.subscribe(`${CANCEL_SUBJECT_PREFIX}.>`, {
      callback: (_err, msg) => {
        const id = msg.subject.slice(CANCEL_SUBJECT_PREFIX.length + 1);
        this.#aborts.get(id)?.(msg.string());
      },
    });
    // Other workers' claims ask whether a run recorded RUNNING here still is.
    this.#holderSub = RunStore.answerHolderProbes(nats.nc, o.workerId, (id) => this.#holding.has(id));
    for (const queue of o.queues) {
      for (const [name, def] of this.tasks) {
        for (const level of PRIORITY_LEVELS) {
          const open = async (): Promise<ConsumerMessages> => {
            const consumerName = await ensureTaskConsumer(nats, queue, name, level, o.heartbeatMs, def.options.concurrencyLimit ?? 0, this.log);
            const consumer = await nats.js.consumers.get(RUNS_STREAM, consumerName);
            // Pull no more than we can start soon: messages held here count
            // against ack_wait and are heartbeated until they start.
            return consumer.consume({ max_messages: o.concurrency, expires: 5_000 });
          };
          // At start a NATS node may still be joining: the consumer's
          // creation is tried again as the streams' set-up is.
          const messages = await whileJetStreamNotReady(open, "creating the task's consumer again", { log: this.log });
          this.#streams.add(messages);
          this.#loops.push(this.#pull(messages, open, def, level));
        }
      }
    }
    this.#presence = new Presence(workers, { id: o.workerId, tasks: [...this.tasks.keys()], queues: o.queues, concurrency: o.concurrency, runIds: () => [...this.#holding.keys()] }, o.heartbeatMs, this.log);
    await this.#presence.start();
    this.#started = true;
    this.log.info({ tasks: [...this.tasks.keys()], queues: o.queues, concurrency: o.concurrency, heartbeatMs: o.heartbeatMs }, "taskwire worker started");
  }

  /**
   * Moves delivered messages into the buffer of their priority level. Each
   * consumer may have at most `concurrency` messages waiting here; beyond
   * that it stops reading, so nats.js stops pulling. If the consume loop
   * ends or fails while the worker runs (its consumer was deleted or reset
   * on a NATS node's loss), it is opened again — the consumer re-created
   * if need be — so the worker never silently stops taking runs.
   */
  async #pull(first: ConsumerMessages, open: () => Promise<ConsumerMessages>, def: AnyTask, level: PriorityLevel): Promise<void> {
    const hb = this.#heartbeats;
    if (!hb) return;
    const src: Source = { count: 0, wake: undefined };
    this.#sources.add(src);
    let messages: ConsumerMessages | undefined = first;
    let pause: number = CONSUME_REOPEN_MS[0];
    try {
      while (!this.#stopping) {
        if (!messages) {
          try {
            messages = await open();
            this.#streams.add(messages);
            this.log.info({ task: def.taskName, level }, "consume loop reopened");
            pause = CONSUME_REOPEN_MS[0];
          } catch (err) {
            this.log.warn({ err, task: def.taskName, level }, "could not reopen a consume loop; trying again");
            await new Promise((r) => setTimeout(r, pause));
            pause = Math.min(pause * 2, CONSUME_REOPEN_MS[1]);
            continue;
          }
          if (this.#stopping) break;
        }
        try {
          for await (const m of messages) {
            hb.hold(m);
            this.#buffers[level].push({ m, def, src });
            src.count++;
            this.#pump();
            while (src.count >= this.options.concurrency && !this.#stopping) await new Promise<void>((r) => (src.wake = r));
          }
          if (!this.#stopping) this.log.warn({ task: def.taskName, level }, "consume loop ended; reopening it");
        } catch (err) {
          if (!this.#stopping) this.log.warn({ err, task: def.taskName, level }, "consume loop failed; reopening it");
        }
        this.#streams.delete(messages);
        await messages.close().catch(() => undefined);
        messages = undefined;
        if (!this.#stopping) await new Promise((r) => setTimeout(r, pause));
      }
    } finally {
      if (messages) this.#streams.delete(messages);
      this.#sources.delete(src);
    }
  }

  /** The buffered message of the highest priority level, or undefined when none is buffered. */
  #take(): Held | undefined {
    for (const level of PRIORITY_LEVELS) {
      const item = this.#buffers[level].shift();
      if (item) {
        item.src.count--;
        const wake = item.src.wake;
        item.src.wake = undefined;
        wake?.();
        return item;
      }
    }
    return undefined;
  }

  /**
   * Starts buffered runs while slots are free, highest priority first.
   * Called when a message arrives and when a run ends, so starting a run
   * costs no promise of its own (a dispatch loop awaiting a slot and then a
   * message made two per run).
   */
  #pump(): void {
    const hb = this.#heartbeats;
    if (!hb || this.#stopping) return;
    while (this.#slots.tryAcquire()) {
      const item = this.#take();
      if (!item) {
        this.#slots.release();
        return;
      }
      const { m, def } = item;
      const p = this.#execute(m, def, () => {
        hb.release(m);
        this.#slots.release();
        this.#running.delete(p);
        this.#pump();
      });
      this.#running.add(p);
    }
  }

  /**
   * Executes one run, then calls `done`; never rejects (a claim or record
   * that failed for good hands the message back).
   */
  #execute(m: JsMsg, def: AnyTask, done: () => void): Promise<void> {
    const deps = (def.options.concurrencyLimit ?? 0) > 0 ? this.#depsAckAtOnce : this.#deps;
    if (!deps) return Promise.resolve().then(done);
    this.stats.started++;
    this.stats.running++;
    return executeRun(m, def, deps).then(
      () => this.#executed(m, done),
      (err: unknown) => {
        // Claiming or recording failed for longer than the retries inside
        // (NATS lost a node and has not recovered): hand the message back
        // now, so the run is claimed again from its recorded state instead
        // of waiting for a redelivery that may not come (a nak is ignored if
        // the message was settled meanwhile).
        this.log.error({ err, subject: m.subject, seq: m.seq }, "could not record a run's progress; handing the message back for a new delivery");
        m.nak(WRITE_FAILED_NAK_MS);
        this.#executed(m, done);
      },
    );
  }

  /** A run's execution is over: its message is no longer held here. */
  #executed(m: JsMsg, done: () => void): void {
    const id = this.#holdOf.get(m);
    if (id !== undefined) {
      this.#holdOf.delete(m);
      if (this.#holding.get(id) === m) this.#holding.delete(id);
    }
    this.stats.running--;
    this.stats.finished++;
    done();
  }

  /**
   * Stops pulling, lets in-flight runs finish within the grace period,
   * then aborts the rest (their messages are redelivered to other workers)
   * and closes the connection.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.log.info({ running: this.#running.size }, "worker stopping: no new runs; waiting for in-flight runs");
    await Promise.all([...this.#streams].map((s) => s.close().catch(() => undefined)));
    // Pulled but not started: hand them back for other workers now.
    for (const level of PRIORITY_LEVELS) {
      for (const { m } of this.#buffers[level].splice(0)) {
        this.#heartbeats?.release(m);
        m.nak();
      }
    }
    for (const src of this.#sources) src.wake?.();
    const all = Promise.all([...this.#running]);
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), this.options.shutdownGraceMs)));
    if ((await Promise.race([all.then(() => "done" as const), graceOver])) === "timeout") {
      this.log.warn({ running: this.#running.size }, "grace period over; aborting remaining runs");
      for (const abort of this.#aborts.values()) abort("worker shutting down");
      await Promise.race([all, new Promise((r) => setTimeout(r, 5_000))]);
    }
    clearTimeout(timer);
    // Held acks leave before the connection closes (else their runs would be redelivered, found finished and acked then).
    this.#acks.flush();
    await Promise.all(this.#loops);
    await this.#presence?.stop();
    this.#cancelSub?.unsubscribe();
    this.#holderSub?.unsubscribe();
    this.#heartbeats?.stop();
    await this.#nats?.close();
    await this.#http?.close(1_000);
    this.log.info(this.stats, "taskwire worker stopped");
    this.#stopped();
  }
}

/**
 * Serves `tasks` until SIGTERM/SIGINT (or `worker.stop()`), like `prefect
 * task serve`. Resolves when the worker has stopped.
 *
 * ```ts
 * await serve([sendEmail], { concurrency: 10 });
 * ```
 */
export async function serve(tasks: readonly AnyTask[], options: WorkerOptions = {}): Promise<Worker> {
  const worker = new Worker(tasks, options);
  await worker.start();
  if (worker.options.handleSignals) {
    const onSignal = (sig: NodeJS.Signals): void => {
      worker.log.info({ signal: sig }, "signal received");
      void worker.stop();
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
    void worker.done.then(() => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    });
  }
  await worker.done;
  return worker;
}
