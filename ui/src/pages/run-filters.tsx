import { useState } from "preact/hooks";
import { listQueues } from "../api/endpoints.js";
import { RUN_STATES, type RunState } from "../api/types.js";
import { usePoll } from "../hooks.js";
import { EMPTY_FILTER, filterToParams, RANGE_PRESETS, type RunFilter } from "../lib/filters.js";
import { stateLabel } from "../lib/format.js";
import { navigate } from "../router.js";

/** `datetime-local` value of epoch ms, in local time ("" for 0). */
function localInput(ms: number): string {
  if (!ms) return "";
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** The filter form of the runs list; applying it changes the URL, so a filtered view can be shared. */
export function RunFilters({ filter }: { filter: RunFilter }) {
  const [draft, setDraft] = useState<RunFilter>(filter);
  // Task and queue names to suggest: the consumers the broker knows of.
  const known = usePoll((signal) => listQueues(signal), []);
  const tasks = [...new Set((known.data ?? []).map((q) => q.task ?? ""))].filter(Boolean).sort();
  const queues = [...new Set((known.data ?? []).map((q) => q.queue ?? ""))].filter(Boolean).sort();

  const set = <K extends keyof RunFilter>(k: K, v: RunFilter[K]): void => setDraft((d) => ({ ...d, [k]: v }));
  const toggle = (s: RunState, on: boolean): void => set("states", on ? [...draft.states, s] : draft.states.filter((x) => x !== s));
  const apply = (e: Event): void => {
    e.preventDefault();
    navigate("/runs", filterToParams(draft));
  };
  const clear = (): void => {
    setDraft(EMPTY_FILTER);
    navigate("/runs");
  };

  return (
    <form class="filters" onSubmit={apply} aria-label="Filter runs">
      <label>
        Task
        <input name="task" list="known-tasks" value={draft.task} onInput={(e) => set("task", e.currentTarget.value.trim())} placeholder="any" autoComplete="off" />
      </label>
      <datalist id="known-tasks">
        {tasks.map((t) => (
          <option key={t} value={t} />
        ))}
      </datalist>
      <label>
        Queue
        <input name="queue" list="known-queues" value={draft.queue} onInput={(e) => set("queue", e.currentTarget.value.trim())} placeholder="any" autoComplete="off" />
      </label>
      <datalist id="known-queues">
        {queues.map((q) => (
          <option key={q} value={q} />
        ))}
      </datalist>
      <label>
        Label
        <input name="label" value={draft.label} onInput={(e) => set("label", e.currentTarget.value.trim())} placeholder="key=value" autoComplete="off" />
      </label>
      <label>
        Created
        <select name="range" value={draft.range} onChange={(e) => set("range", e.currentTarget.value)}>
          <option value="">Any time</option>
          {RANGE_PRESETS.map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
          <option value="custom">Between…</option>
        </select>
      </label>
      {draft.range === "custom" ? (
        <>
          <label>
            From
            <input type="datetime-local" name="from" value={localInput(draft.from)} onInput={(e) => set("from", e.currentTarget.value ? new Date(e.currentTarget.value).getTime() : 0)} />
          </label>
          <label>
            To
            <input type="datetime-local" name="to" value={localInput(draft.to)} onInput={(e) => set("to", e.currentTarget.value ? new Date(e.currentTarget.value).getTime() : 0)} />
          </label>
        </>
      ) : null}
      <fieldset class="states">
        <legend>State</legend>
        {RUN_STATES.map((s) => (
          <label key={s} class="check">
            <input type="checkbox" name="state" value={s} checked={draft.states.includes(s)} onChange={(e) => toggle(s, e.currentTarget.checked)} />
            {stateLabel(s)}
          </label>
        ))}
      </fieldset>
      <div class="filter-actions">
        <button type="submit" class="primary">
          Apply
        </button>
        <button type="button" onClick={clear}>
          Clear
        </button>
      </div>
    </form>
  );
}
