import { AckPolicy, type ConsumerMessages, DeliverPolicy, JetStreamApiError, type JsMsg } from "@nats-io/jetstream";
import { decodeRunMessage, encodeRunMessage, expire, release, RunState, type TaskRun } from "@taskwire/protocol";
import { extractHeaders, type NatsHandle, type RunStore, SCHEDULED_STREAM, SCHEDULER_CONSUMER, settle } from "@taskwire/core";
import type { Logger } from "pino";
import { Publisher } from "./publisher.js";

/**
 * Releases delayed runs when they are due. Every broker runs one; they share
 * one durable consumer, so each delayed run is in the hands of one broker at
 * a time, and the SCHEDULED → PENDING compare-and-set makes the release
 * happen once even if two brokers race after a redelivery. What to do with
 * each message is decided by the lifecycle's `release` and `expire`.
 */
export class Scheduler {
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;
  readonly #publisher: Publisher;

  constructor(
    readonly nats: NatsHandle,
    readonly store: RunStore,
    readonly log: Logger,
  ) {
    this.#publisher = new Publisher(nats);
  }

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
        // Leave it for later: it is redelivered and retried.
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
    if (!stored) {
      m.ack(); // expired (retention): nothing to release
      return;
    }
    const isExpiry = m.subject.endsWith(".expire");
    // One "now" for the dependency read and the decision, so a run that
    // became due in between is not decided with dependencies never read.
    const now = new Date();
    const deps = isExpiry ? [] : await this.#dependencyStates(stored.run, now);
    const out = await this.store.transition(msgRun.id, (run) => (isExpiry ? expire(run, now) : release(run, { dependencies: deps }, now)), stored);
    if (!out) {
      m.ack();
      return;
    }
    // The released run carries its revision, so the worker's first CAS can
    // skip a read; the trace continues from the submit that scheduled it.
    const run = { ...out.stored.run, revision: out.stored.revision };
    const ctx = extractHeaders(m.headers);
    await this.#publisher.publish(out.step.effects, run, ctx, encodeRunMessage(run));
    settle(m, out.step.effects);
  }

  /** The states of the runs a due, held run waits for (read only when `release` will look at them). */
  async #dependencyStates(run: TaskRun, now: Date): Promise<Array<RunState | undefined>> {
    const ids = run.options?.waitFor ?? [];
    const due = (run.scheduledAt?.getTime() ?? 0) <= now.getTime();
    if (ids.length === 0 || run.state !== RunState.RUN_STATE_SCHEDULED || !due) return [];
    return Promise.all(ids.map(async (id) => (await this.store.get(id))?.run.state));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#messages?.close();
    await this.#loop;
  }
}
