import type { Failure } from "../api/types.js";

/** An error: its type and message, the stack folded below. */
export function FailureView({ failure, open = true }: { failure: Failure; open?: boolean }) {
  return (
    <div class="failure" role="group" aria-label="Error">
      <p>
        <strong class="failure-type">{failure.type || "Error"}</strong>
        {failure.message ? `: ${failure.message}` : ""}
        {failure.retryable === false ? <span class="chip">not retryable</span> : null}
      </p>
      {failure.stack ? (
        <details open={open}>
          <summary>Stack</summary>
          <pre class="code stack" tabIndex={0}>
            {failure.stack}
          </pre>
        </details>
      ) : null}
    </div>
  );
}
