import type { Payload } from "../api/types.js";
import { showPayload } from "../lib/payload.js";

/** A payload: pretty JSON or text in a scrollable block, or what it is when binary. */
export function PayloadView({ payload, label }: { payload: Payload | undefined; label: string }) {
  const p = showPayload(payload);
  if (p.kind === "empty") return <p class="muted">none</p>;
  if (p.kind === "binary") return <p class="muted">{`${p.bytes.toLocaleString()} bytes of ${p.contentType}`}</p>;
  return (
    <pre class="code" tabIndex={0} aria-label={label}>
      {p.text}
    </pre>
  );
}
