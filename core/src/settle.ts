import type { JsMsg } from "@nats-io/jetstream";
import type { Effect } from "@taskwire/protocol";

/** Settles a delivered message as a lifecycle step decided: ack, nak with its delay, or term. Other effects are not the message holder's. */
export function settle(m: JsMsg, effects: readonly Effect[]): void {
  for (const e of effects) {
    if (e.type === "ack") m.ack();
    else if (e.type === "nak") m.nak(e.delayMs);
    else if (e.type === "term") m.term();
  }
}
