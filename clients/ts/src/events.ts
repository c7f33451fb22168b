import type { ClientReadableStream } from "@grpc/grpc-js";
import { type RunEvent, type RunState, StreamEventsRequest, type StreamEventsResponse } from "@taskwire/protocol";
import { Status, TaskwireError } from "./errors.js";
import type { Rpc } from "./rpc.js";

export interface StreamEventsOptions {
  /** Only these runs. @default all */
  runIds?: string[];
  /** Only runs of these tasks. @default all */
  tasks?: string[];
  /** Only events whose run is in one of these states. @default all */
  states?: RunState[];
  /** Resume after this cursor (from an earlier event or heartbeat). @default "" (from now) */
  afterCursor?: string;
  /** Heartbeat interval the broker uses on this stream, in ms. @default the broker's (15 s) */
  heartbeatIntervalMs?: number;
  /** End the stream once every listed run is terminal. @default false */
  untilTerminal?: boolean;
}

/** Opens one StreamEvents call (no reconnection). */
export function openEventStream(rpc: Rpc, opts: StreamEventsOptions = {}, signal?: AbortSignal): ClientReadableStream<StreamEventsResponse> {
  const stream = rpc.raw.streamEvents(
    StreamEventsRequest.fromPartial({
      runIds: opts.runIds ?? [],
      tasks: opts.tasks ?? [],
      states: opts.states ?? [],
      afterCursor: opts.afterCursor ?? "",
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 0,
      untilTerminal: opts.untilTerminal ?? false,
    }),
    rpc.metadata(),
  );
  if (signal) {
    // Removed when the call ends: a follower reconnecting for hours must not pile up listeners on its signal.
    const cancel = (): void => stream.cancel();
    signal.addEventListener("abort", cancel, { once: true });
    const done = (): void => signal.removeEventListener("abort", cancel);
    stream.once("status", done);
    stream.once("close", done);
  }
  return stream;
}

/**
 * Follows events as an async iterator. On a dropped connection it
 * reconnects with the last cursor it saw, so nothing is missed or repeated.
 * Heartbeats are consumed (they advance the cursor) and not yielded.
 */
export async function* followEvents(rpc: Rpc, opts: StreamEventsOptions = {}, signal?: AbortSignal): AsyncGenerator<RunEvent> {
  let cursor = opts.afterCursor ?? "";
  let backoff = 100;
  for (;;) {
    const stream = openEventStream(rpc, { ...opts, afterCursor: cursor }, signal);
    try {
      for await (const msg of stream as AsyncIterable<StreamEventsResponse>) {
        backoff = 100;
        if (msg.event) {
          cursor = msg.event.cursor;
          yield msg.event;
        } else if (msg.heartbeat?.cursor) {
          cursor = msg.heartbeat.cursor;
        }
      }
      return;
    } catch (err) {
      const e = TaskwireError.from(err);
      if (signal?.aborted || e.code !== Status.UNAVAILABLE) throw e;
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 5_000);
    } finally {
      stream.cancel();
    }
  }
}
