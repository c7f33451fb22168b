import type { RunState } from "../api/types.js";
import { stateLabel } from "../lib/format.js";

/** A run state as a coloured label (colour is never the only cue: the text says it). */
export function StateBadge({ state, cancelRequested }: { state: RunState | undefined; cancelRequested?: boolean }) {
  const s = stateLabel(state);
  return (
    <span class={`badge state-${s.replace(/ /g, "-")}`} data-state={state}>
      {s}
      {cancelRequested && state === "RUN_STATE_RUNNING" ? " (cancelling)" : ""}
    </span>
  );
}
