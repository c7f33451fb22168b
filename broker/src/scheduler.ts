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
    this.#messages = await this.#open();
    this.#loop = this.#run();
  }

  async #open(): Promise<ConsumerMessages> {
    const consumer = await this.nats.js.consumers.get(SCHEDULED_STREAM, SCHEDULER_CONSUMER);
    // Short pulls: a pull waiting on a consumer leader that died is only
    // noticed when it expires (nats.js's default, 30 s, held delayed runs
    // back that long after a NATS node was lost).
    return consumer.consume({ max_messages: 512, expires: 5_000 });
  }

  /**
   * Handles held runs until stopped. If the consume loop ends or fails on
   * its own (its consumer reset when a NATS node was lost), it is opened
   * again, so a broker never silently stops releasing delayed runs.
   */
  async #run(): Promise<void> {
    let pause = 250;
    while (!this.#stopped) {
      const messages = this.#messages;
      if (messages) {
        try {
          for await (const m of messages) {
            if (this.#stopped) {
              // Stopping: the messages already buffered here are handed back
              // at once, so another broker takes them now instead of after
              // the 30 s ack wait (the loop ends when close() is reached).
              m.nak();
              continue;
            }
            try {
              await this.#handle(m);
            } catch (err) {
              // Leave it for later: it is redelivered and retried.
              this.log.warn({ err, seq: m.seq }, "scheduler could not release a run; will retry");
              m.nak(1_000);
            }
          }
        } catch (err) {
          if (!this.#stopped) this.log.warn({ err }, "scheduler consume loop failed; reopening it");
        }
        if (this.#stopped) return;
        await messages.close().catch(() => undefined);
        this.log.warn("scheduler consume loop ended; reopening it");
      }
      await new Promise((r) => setTimeout(r, pause));
      if (this.#stopped) return;
      try {
        this.#messages = await this.#open();
        pause = 250;
      } catch (err) {
        this.#messages = undefined;
        pause = Math.min(pause * 2, 5_000);
        this.log.warn({ err }, "scheduler could not reopen its consume loop; trying again");
      }
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
