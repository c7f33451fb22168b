import type { JsMsg } from "@nats-io/jetstream";

/**
 * Numbers from a delivered JetStream message's ack subject, read without
 * nats.js' `m.info`: that splits the subject and parses all five numbers
 * into a new object on first use (1.5 % of a busy worker's CPU for the one
 * number a claim needs, and the broker reads a timestamp from every record
 * revision it follows). The subject is
 * `$JS.ACK.<domain>.<account>.<stream>.<consumer>.<deliveries>.<stream seq>.<delivery seq>.<time ns>.<pending>[.<token>]`,
 * or the older form without domain and account; names cannot hold dots.
 * Anything else falls back to `m.info` (which throws for a non-JetStream message, as before).
 */
function ackNumber(m: JsMsg, index: number, fallback: (m: JsMsg) => number): number {
  // nats.js' messages have it, though its JsMsg type does not say so.
  const reply = (m as { reply?: unknown }).reply;
  if (typeof reply !== "string" || !reply.startsWith("$JS.ACK.")) return fallback(m);
  let dots = 0;
  for (let p = reply.indexOf("."); p !== -1; p = reply.indexOf(".", p + 1)) dots++;
  if (dots === 8) index -= 2; // the older form
  else if (dots < 10) return fallback(m);
  let start = 0;
  for (let k = 0; k < index; k++) start = reply.indexOf(".", start) + 1;
  const end = reply.indexOf(".", start);
  const n = Number(reply.slice(start, end));
  return Number.isFinite(n) && end > start ? n : fallback(m);
}

/** How many times this message has been delivered (1 on its first delivery): `m.info.deliveryCount`. */
export function deliveryCount(m: JsMsg): number {
  return ackNumber(m, 6, (x) => x.info.deliveryCount);
}

/** When the stream stored this message, in ms since the epoch (the server's clock): `m.info.timestampNanos / 1e6`. */
export function storedAtMs(m: JsMsg): number {
  return ackNumber(m, 9, (x) => x.info.timestampNanos) / 1e6;
}

/** The message's sequence in its stream (for a KV watch: the key's revision): `m.seq`. */
export function streamSequence(m: JsMsg): number {
  return ackNumber(m, 7, (x) => x.info.streamSequence);
}
