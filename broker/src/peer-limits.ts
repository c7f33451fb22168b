import { status as Status } from "@grpc/grpc-js";
import { BrokerError } from "./errors.js";

/**
 * Caps on what one client connection may hold open at once: StreamEvents
 * calls and GetStatus calls waiting for a run to end. A client over a cap
 * is answered RESOURCE_EXHAUSTED at once, so one misbehaving client cannot
 * exhaust the broker's memory or NATS subscriptions for everyone else.
 */
export class PeerLimits {
  readonly #held = new Map<string, number>();

  constructor(
    readonly kind: string,
    readonly max: number,
    readonly setting: string,
  ) {}

  /** Takes a place for `peer` (grpc-js `call.getPeer()`, one per connection); returns its release. */
  acquire(peer: string): () => void {
    const n = this.#held.get(peer) ?? 0;
    if (n >= this.max) {
      throw new BrokerError(Status.RESOURCE_EXHAUSTED, `this connection already has ${n} open ${this.kind}, the limit per connection (${this.setting}); close some, or spread them over more connections`);
    }
    this.#held.set(peer, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#held.get(peer) ?? 1) - 1;
      if (left <= 0) this.#held.delete(peer);
      else this.#held.set(peer, left);
    };
  }
}
