import type { JsMsg } from "@nats-io/jetstream";

/**
 * Keeps every message this worker holds (waiting for a slot or executing)
 * alive with `working()` — one timer for all of them. The consumer's
 * ack_wait is twice the interval, so a worker that dies loses its runs to
 * another worker within 2 × the interval, and one that is merely busy
 * never does.
 */
export class Heartbeats {
  readonly #held = new Set<JsMsg>();
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.#timer = setInterval(() => {
      for (const m of this.#held) m.working();
    }, intervalMs);
    this.#timer.unref();
  }

  hold(m: JsMsg): void {
    this.#held.add(m);
  }

  release(m: JsMsg): void {
    this.#held.delete(m);
  }

  get size(): number {
    return this.#held.size;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
