import type { StreamStatus } from "../api/events.js";

const TEXT: Record<StreamStatus, string> = {
  live: "● Live",
  connecting: "Connecting…",
  retrying: "Reconnecting…",
  paused: "Paused while the tab is hidden",
};

/** Whether the page's event stream is connected (announced politely to screen readers). */
export function LiveStatus({ status }: { status: StreamStatus }) {
  return (
    <span class={`live-status ${status}`} role="status" aria-live="polite" data-status={status}>
      {TEXT[status]}
    </span>
  );
}
