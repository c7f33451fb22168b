import { AckPolicy, type ConsumerMessages, DeliverPolicy, JetStreamApiError, type JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { EventType, RunState, type TaskRun } from "@taskwire/client/gen";
import { decodeRunMessage, encodeRunMessage, isTerminal, type NatsHandle, priorityLevel, type RunStore, runSubject, SCHEDULED_STREAM, SCHEDULER_CONSUMER } from "@taskwire/core";
import type { Logger } from "pino";

/** Longest single wait of a delayed run before the scheduler looks at it again, in ms. */
const MAX_NAK_MS = 30_000;
/** How often a run waiting for other runs looks at them again, in ms. */
const DEPENDENCY_POLL_MS = 250;

/**
 * Releases delayed runs when they are due. Every broker runs one; they share
 * one durable consumer, so each delayed run is in the hands of one broker at
 * a time, and the SCHEDULED → PENDING compare-and-set makes the release
 * happen once even if two brokers race after a redelivery. A run not yet due
 * is nak'ed with a delay (at most 30 s, so a cancel is noticed promptly and
 * long delays survive restarts).
 */
export class Scheduler {
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;

  constructor(
    readonly nats: NatsHandle,
    readonly store: RunStore,
    readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    try {
      await this.nats.jsm.consumers.add(SCHEDULED_STREAM, {
        durable_name: SCHEDULER_CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: 30_000_000_000,
        max_deliver: -1,
        max_ack_pending: 100_000,
      });
    } catch (err) {
      // Already created by another broker with the same config.
      if (!(err instanceof JetStreamApiError)) throw err;
    }
    const consumer = await this.nats.js.consumers.get(SCHEDULED_STREAM, SCHEDULER_CONSUMER);
    this.#messages = await consumer.consume({ max_messages: 512 });
    this.#loop = this.#run(this.#messages);
  }

  async #run(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      try {
        await this.#handle(m);
      } catch (err) {
        // Leave it unacked: it is redelivered after ack_wait and retried.
        this.log.warn({ err, seq: m.seq }, "scheduler could not release a run; will retry");
        m.nak(1_000);
      }
      if (this.#stopped) break;
    }
  }

  async #handle(m: JsMsg): Promise<void> {
    const msgRun = decodeRunMessage(m.data);
    if (!msgRun) {
      m.term();
      return;
    }
    const stored = await this.store.get(msgRun.id);
    if (!stored || isTerminal(stored.run.state)) {
      m.ack();
      return;
    }
    if (m.subject.endsWith(".expire")) {
      await this.#expire(m, stored.run);
      return;
    }
    const due = stored.run.scheduledAt?.getTime() ?? 0;
    const wait = due - Date.now();
    if (stored.run.state === RunState.RUN_STATE_SCHEDULED && wait > 0) {
      m.nak(Math.min(wait, MAX_NAK_MS));
      return;
    }
    const deps = stored.run.options?.waitFor ?? [];
    if (stored.run.state === RunState.RUN_STATE_SCHEDULED && deps.length > 0) {
      const states = await Promise.all(deps.map(async (id) => (await this.store.get(id))?.run.state));
      // An expired dependency counts as failed: it can never complete now.
      const failed = deps.filter((_, i) => states[i] === undefined || states[i] === RunState.RUN_STATE_FAILED || states[i] === RunState.RUN_STATE_CANCELLED);
      if (failed.length > 0 && !stored.run.options?.runIfDependenciesFail) {
        const t = new Date();
        await this.store.transition(stored.run.id, (run) =>
          run.state === RunState.RUN_STATE_SCHEDULED
            ? { write: { ...run, state: RunState.RUN_STATE_FAILED, lastEvent: EventType.EVENT_TYPE_FAILED, finishedAt: t, updatedAt: t, error: { type: "DependencyFailed", message: `run(s) it waits for did not complete: ${failed.join(", ")}`, stack: "", retryable: false } } }
            : { skip: true },
        );
        m.ack();
        return;
      }
      if (states.some((s) => s !== undefined && !isTerminal(s))) {
        m.nak(DEPENDENCY_POLL_MS);
        return;
      }
    }
    const res = await this.store.transition(
      msgRun.id,
      (run) =>
        run.state === RunState.RUN_STATE_SCHEDULED
          ? { write: { ...run, state: RunState.RUN_STATE_PENDING, lastEvent: EventType.EVENT_TYPE_RELEASED, updatedAt: new Date() } }
          : { skip: true },
      stored,
    );
    const run = res?.stored.run;
    if (run && run.state === RunState.RUN_STATE_PENDING && run.attempt === 0) {
      const h = natsHeaders();
      const tp = m.headers?.get("traceparent");
      if (tp) h.set("traceparent", tp);
      // msgID makes a second release (after a crash between here and the ack) a no-op.
      await this.nats.wire.publish(runSubject(run.queue, run.task, priorityLevel(run.options?.priority ?? 0)), encodeRunMessage({ ...run, revision: res.stored.revision }), { msgID: run.id, headers: h });
    }
    m.ack();
  }

  /** A run's schedule-to-start deadline: expire it if it has not started by then. */
  async #expire(m: JsMsg, run: TaskRun): Promise<void> {
    const sts = run.options?.scheduleToStartTimeoutMs ?? 0;
    const deadline = (run.scheduledAt?.getTime() ?? run.createdAt?.getTime() ?? 0) + sts;
    if (run.attempt > 0 || sts <= 0) {
      m.ack(); // it started (or has no deadline): nothing to do
      return;
    }
    const left = deadline - Date.now();
    if (left > 0) {
      m.nak(Math.min(left, MAX_NAK_MS));
      return;
    }
    const t = new Date();
    await this.store.transition(run.id, (cur) =>
      cur.attempt === 0 && (cur.state === RunState.RUN_STATE_PENDING || cur.state === RunState.RUN_STATE_SCHEDULED)
        ? {
            write: {
              ...cur,
              state: RunState.RUN_STATE_FAILED,
              lastEvent: EventType.EVENT_TYPE_EXPIRED,
              finishedAt: t,
              updatedAt: t,
              error: { type: "ScheduleToStartTimeout", message: `not started within ${sts} ms of becoming due`, stack: "", retryable: false },
            },
          }
        : { skip: true },
    );
    m.ack();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#messages?.close();
    await this.#loop;
  }
}
