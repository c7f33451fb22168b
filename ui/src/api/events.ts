import { ApiError, authHeaders, errorOf, queryString } from "./client.js";
import { SseParser } from "./sse.js";
import type { RunEvent, RunState, StreamEventsResponse } from "./types.js";

/** What to follow on `GET /v1/events` (the broker filters). */
export interface EventFilter {
  runIds?: readonly string[];
  tasks?: readonly string[];
  states?: readonly RunState[];
  /** Resume strictly after this cursor. Without it and without run ids: new events only. */
  afterCursor?: string;
}

export type StreamStatus = "connecting" | "live" | "retrying" | "paused";

/** A hidden tab lets go of its streams after this long (browsers allow ~6 connections per host over HTTP/1.1). */
const HIDDEN_GRACE_MS = 5_000;

function whenVisible(): Promise<void> {
  if (document.visibilityState === "visible") return Promise.resolve();
  return new Promise((resolve) => {
    const on = (): void => {
      if (document.visibilityState !== "visible") return;
      document.removeEventListener("visibilitychange", on);
      resolve();
    };
    document.addEventListener("visibilitychange", on);
  });
}

export interface FollowOptions extends EventFilter {
  onEvent(event: RunEvent): void;
  onStatus?(status: StreamStatus, error?: Error): void;
  /** Heartbeat interval asked of the broker; silence for 3 × this reconnects. @default 5_000 */
  heartbeatMs?: number;
}

/**
 * Follows run events over server-sent events, read with fetch (EventSource
 * cannot send an Authorization header). On a dropped connection, a broker
 * error or silence past three heartbeats it reconnects after a short,
 * growing pause, resuming after the last cursor seen (an event's or a
 * heartbeat's), so nothing is missed and nothing repeats. A tab hidden for
 * a few seconds closes its stream and resumes from the cursor when shown
 * again. Returns stop().
 */
export function followEvents(opts: FollowOptions): () => void {
  const heartbeatMs = opts.heartbeatMs ?? 5_000;
  let cursor = opts.afterCursor ?? "";
  let stopped = false;
  let current: AbortController | undefined;
  let pause = 500;

  const once = async (): Promise<void> => {
    const ctl = new AbortController();
    current = ctl;
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const arm = (): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => ctl.abort(new Error("no heartbeat")), heartbeatMs * 3);
    };
    try {
      opts.onStatus?.("connecting");
      arm();
      const query = queryString({
        run_ids: opts.runIds,
        tasks: opts.tasks,
        states: opts.states,
        after_cursor: cursor,
        heartbeat_interval_ms: heartbeatMs,
      });
      const res = await fetch(`/v1/events${query}`, { headers: { accept: "text/event-stream", ...authHeaders() }, signal: ctl.signal, cache: "no-store" });
      if (!res.ok) throw await errorOf(res);
      if (!res.body) throw new Error("the event stream has no body");
      opts.onStatus?.("live");
      pause = 500;
      const parser = new SseParser();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        for (const m of parser.push(value)) {
          // The broker ends a stream it cannot go on with by an error event ({code, message}).
          if (m.event === "error") {
            const e = JSON.parse(m.data) as { code?: unknown; message?: unknown };
            throw new ApiError(500, String(e.code ?? "error"), typeof e.message === "string" ? e.message : "the event stream failed");
          }
          if (m.event === "end") break;
          const msg = JSON.parse(m.data) as StreamEventsResponse;
          if (msg.event) {
            if (msg.event.cursor) cursor = msg.event.cursor;
            else if (m.id) cursor = m.id;
            opts.onEvent(msg.event);
          } else if (msg.heartbeat?.cursor) cursor = msg.heartbeat.cursor;
          else if (m.id) cursor = m.id;
        }
      }
      throw new Error("the event stream ended");
    } finally {
      clearTimeout(watchdog);
      ctl.abort();
    }
  };

  let hiddenTimer: ReturnType<typeof setTimeout> | undefined;
  let pausedByHiding = false;
  const onVisibility = (): void => {
    clearTimeout(hiddenTimer);
    if (document.visibilityState === "visible") return;
    hiddenTimer = setTimeout(() => {
      pausedByHiding = true;
      current?.abort();
    }, HIDDEN_GRACE_MS);
  };
  document.addEventListener("visibilitychange", onVisibility);
  onVisibility();

  void (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped) break;
        if (pausedByHiding) {
          pausedByHiding = false;
          opts.onStatus?.("paused");
          await whenVisible();
          continue;
        }
        opts.onStatus?.("retrying", err instanceof Error ? err : new Error(String(err)));
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(pause * 2, 10_000);
      }
    }
  })();

  return () => {
    stopped = true;
    clearTimeout(hiddenTimer);
    document.removeEventListener("visibilitychange", onVisibility);
    current?.abort();
  };
}
