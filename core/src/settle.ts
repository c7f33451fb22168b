import type { JsMsg } from "@nats-io/jetstream";
import type { Effect } from "@taskwire/protocol";
import type { Acker } from "./exec/acks.js";

/**
 * Settles a delivered message as a lifecycle step decided: ack (through
 * `acks` when given, which may hold it a few ms to send it with others), nak
 * with its delay, or term. Other effects are not the message holder's.
 */
export function settle(m: JsMsg, effects: readonly Effect[], acks?: Acker): void {
  for (const e of effects) {
    if (e.type === "ack") {
      if (acks) acks.ack(m);
      else m.ack();
    }
    else if (e.type === "nak") m.nak(e.delayMs);
    else if (e.type === "term") m.term();
  }
}
