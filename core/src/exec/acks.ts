import type { JsMsg } from "@nats-io/jetstream";

/** What settles a message's ack: sends it now, or holds it to send with others (AckBatcher). */
export interface Acker {
  ack(m: JsMsg): void;
}

/** At most this many acks wait for the timer; one more sends them all at once. */
export const ACK_BATCH_MAX = 1_024;

/**
 * Sends the acks of finished runs together, `delayMs` after the first of
 * them, instead of one socket write each. An ack only ever leaves after its
 * run's outcome is recorded, so holding it a few milliseconds changes
 * nothing a run's owner sees: a worker that dies meanwhile leaves the
 * message to be redelivered, and its next claim finds the run finished and
 * acks it without running it. What it saves is a write per run in the
 * worker and a wake-up per run in nats-server when runs finish one at a
 * time, and the acks of a burst leave in one write. With `delayMs` 0 every
 * ack is sent at once.
 */
export class AckBatcher implements Acker {
  #pending: JsMsg[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(readonly delayMs: number) {}

  ack(m: JsMsg): void {
    if (this.delayMs <= 0) return m.ack();
    if (this.#pending.push(m) >= ACK_BATCH_MAX) return this.flush();
    this.#timer ??= setTimeout(() => this.flush(), this.delayMs);
  }

  /** Sends every held ack now (the worker's stop does before it closes its connection). */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const held = this.#pending;
    this.#pending = [];
    for (const m of held) {
      try {
        m.ack();
      } catch {
        // The connection closed meanwhile (a stop whose runs outlived its grace): the run is recorded; its redelivery is acked by the next claim.
      }
    }
  }

  /** Acks held now. */
  get pending(): number {
    return this.#pending.length;
  }
}
