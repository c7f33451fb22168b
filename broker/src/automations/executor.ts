import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import type { Subscription } from "@nats-io/transport-node";
import { type AttemptResult, decodeRunMessage, SubmitOptions } from "@taskwire/protocol";
import {
  AUTOMATION_QUEUE,
  AUTOMATION_TASKS,
  CANCEL_SUBJECT_PREFIX,
  claimRun,
  completedResult,
  ensureTaskConsumer,
  type ExecDeps,
  Heartbeats,
  KeySlots,
  type NatsHandle,
  RateLimiter,
  recordAttempt,
  RUNS_STREAM,
  RunStore,
  type TaskSpec,
} from "@taskwire/core";
import type { Logger } from "pino";
import { type ActionDeps, executeAction } from "./actions.js";

/** A pull waits this long for runs before it is made again, in ms (a pull parked on a dead consumer leader is replaced within seconds). */
const FETCH_EXPIRES_MS = 5_000;
/** Delay of the nak that hands back a run that could not be claimed or recorded, in ms. */
const WRITE_FAILED_NAK_MS = 1_000;
/** How long a stopping broker lets action runs in flight finish before it hands them back, in ms. */
const STOP_GRACE_MS = 5_000;

export interface ExecutorSettings {
  /** Held runs are heartbeated this often, in ms; the built-in tasks' consumers' ack_wait is twice it. */
  heartbeatMs: number;
  /** Action runs one broker executes at once, per built-in task. */
  concurrency: number;
}

/**
 * Executes the automations' action runs (queue taskwire-automations) in
 * the broker, the way a worker executes any run: the same consumers,
 * claim, heartbeats and outcome records (core/src/exec), so an action run
 * is retried with its backoff, dead-lettered when it keeps failing, can be
 * cancelled, retried from the UI, and is taken over by another broker if
 * this one dies. Every broker executes them; the consumers split the load.
 */
export class ActionExecutor {
  readonly workerId = `taskwire-broker-automations@${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  readonly #deps: ExecDeps;
  readonly #heartbeats: Heartbeats;
  /** Runs executing here, with the controller a cancel notice aborts. */
  readonly #running = new Map<string, AbortController>();
  readonly #held = new Set<string>();
  readonly #loops: Promise<void>[] = [];
  readonly #subs: Subscription[] = [];
  #stopped = false;
  #stopPulls: Array<() => void> = [];

  constructor(
    readonly nats: NatsHandle,
    resources: { store: RunStore; cache: KV; results: ObjectStore; limits: KV },
    readonly actions: ActionDeps,
    readonly settings: ExecutorSettings,
    readonly log: Logger,
  ) {
    this.#heartbeats = new Heartbeats(settings.heartbeatMs);
    this.#deps = {
      store: resources.store,
      cache: resources.cache,
      results: resources.results,
      rateLimiter: new RateLimiter(resources.limits),
      keySlots: new KeySlots(resources.limits, 2 * settings.heartbeatMs),
      options: { workerId: this.workerId, heartbeatMs: settings.heartbeatMs, maxCrashRetries: 10, maxResultBytes: 65_536, inlineResultBytes: 65_536 },
      log,
      holders: {
        isHeld: async (workerId, runId) => (workerId === this.workerId ? this.#held.has(runId) : RunStore.isHeld(nats.nc, workerId, runId)),
        hold: (runId) => this.#held.add(runId),
      },
    };
  }

  async start(): Promise<void> {
    this.#subs.push(RunStore.answerHolderProbes(this.nats.nc, this.workerId, (id) => this.#held.has(id)));
    this.#subs.push(
      this.nats.nc.subscribe(`${CANCEL_SUBJECT_PREFIX}.>`, {
        callback: (_err, msg) => {
          const id = msg.subject.slice(CANCEL_SUBJECT_PREFIX.length + 1);
          this.#running.get(id)?.abort(msg.string() || "cancelled");
        },
      }),
    );
    for (const task of Object.values(AUTOMATION_TASKS)) {
      const name = await ensureTaskConsumer(this.nats, AUTOMATION_QUEUE, task, "normal", this.settings.heartbeatMs, 0, this.log);
      this.#loops.push(this.#pull({ name: task, defaults: SubmitOptions.fromPartial({}) }, name));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const s of this.#stopPulls.splice(0)) s();
    // Deliveries in flight get a moment to finish; those still running are
    // aborted and handed back (not recorded), for another broker to make.
    const late = setTimeout(() => {
      for (const ac of this.#running.values()) ac.abort("the broker is stopping");
    }, STOP_GRACE_MS);
    await Promise.all(this.#loops);
    clearTimeout(late);
    for (const s of this.#subs) s.unsubscribe();
    this.#heartbeats.stop();
  }

  /**
   * Consumes runs of one built-in task, at most `concurrency` at once: the
   * next message is taken only when a slot is free, so at most one
   * `concurrency` more wait in the client's buffer. Reopened if it ends or
   * fails (a NATS node lost, the consumer deleted).
   */
  async #pull(spec: TaskSpec, consumerName: string): Promise<void> {
    let inFlight = 0;
    let freed: (() => void) | undefined;
    let pause = 250;
    const tasks = new Set<Promise<void>>();
    while (!this.#stopped) {
      try {
        const consumer = await this.nats.js.consumers.get(RUNS_STREAM, consumerName);
        const messages = await consumer.consume({ max_messages: this.settings.concurrency, expires: FETCH_EXPIRES_MS });
        const stop = (): void => void messages.close().catch(() => undefined);
        this.#stopPulls.push(stop);
        for await (const m of messages) {
          while (inFlight >= this.settings.concurrency && !this.#stopped) await new Promise<void>((r) => (freed = r));
          if (this.#stopped) {
            m.nak();
            continue;
          }
          inFlight++;
          const p = this.#handle(m, spec).finally(() => {
            inFlight--;
            tasks.delete(p);
            freed?.();
            freed = undefined;
          });
          tasks.add(p);
        }
        this.#stopPulls = this.#stopPulls.filter((s) => s !== stop);
        pause = 250;
      } catch (err) {
        if (this.#stopped) break;
        this.log.warn({ err, consumer: consumerName }, "consuming automation action runs failed; trying again");
      }
      if (this.#stopped) break;
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 5_000);
      await ensureTaskConsumer(this.nats, AUTOMATION_QUEUE, spec.name, "normal", this.settings.heartbeatMs, 0, this.log).catch(() => undefined);
    }
    await Promise.all(tasks);
  }

  /** Claims one delivered action run, carries it out and records its outcome (core/src/exec, as any worker). */
  async #handle(m: JsMsg, spec: TaskSpec): Promise<void> {
    this.#heartbeats.hold(m);
    let runId = "";
    try {
      const msgRun = decodeRunMessage(m.data);
      if (!msgRun) {
        m.term();
        return;
      }
      runId = msgRun.id;
      const claimed = await claimRun(m, spec, this.#deps, msgRun);
      if (!claimed) return;
      const run = claimed.stored.run;
      const ac = new AbortController();
      this.#running.set(run.id, ac);
      const started = Date.now();
      const out = await executeAction(run, ac.signal, this.actions);
      if (this.#stopped && ac.signal.aborted) {
        m.nak();
        return;
      }
      const result = async (): Promise<AttemptResult> => (out.kind === "done" ? completedResult(run, { contentType: "application/json", data: Buffer.from(JSON.stringify(out.value ?? null)) }, this.#deps) : out);
      const recorded = await recordAttempt(m, run, result, this.#deps);
      this.log.debug({ runId: run.id, task: run.task, attempt: run.attempt, outcome: out.kind, ms: Date.now() - started, written: recorded.written }, "automation action run");
    } catch (err) {
      if (this.#stopped) return;
      this.log.error({ err, runId }, "could not execute an automation action run; handing it back");
      m.nak(WRITE_FAILED_NAK_MS);
    } finally {
      this.#running.delete(runId);
      this.#held.delete(runId);
      this.#heartbeats.release(m);
    }
  }
}
