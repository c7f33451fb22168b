import { useState } from "preact/hooks";
import { deleteSchedule, listSchedules, pauseSchedule } from "../api/endpoints.js";
import type { Schedule } from "../api/types.js";
import { Labels } from "../components/labels.js";
import { ErrorNotice } from "../components/notice.js";
import { useNow, usePoll } from "../hooks.js";
import { formatAgo, formatTime, shortId } from "../lib/format.js";
import { href } from "../router.js";

/** Cron schedules: when each fires next, what it last submitted; pause, resume, delete. */
export function SchedulesPage() {
  const list = usePoll((signal) => listSchedules(signal), [], 5_000);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState("");
  const [confirmDelete, setConfirmDelete] = useState("");
  const now = useNow(1_000);

  const act = async (name: string, what: () => Promise<unknown>): Promise<void> => {
    setBusy(name);
    setError(undefined);
    try {
      await what();
      setConfirmDelete("");
      list.reload();
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy("");
    }
  };

  const schedules = [...(list.data ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <section aria-labelledby="schedules-title">
      <div class="page-head">
        <h1 id="schedules-title">Schedules</h1>
        <span class="muted">{list.data ? `${schedules.length} ${schedules.length === 1 ? "schedule" : "schedules"}` : ""}</span>
      </div>
      <ErrorNotice error={error ?? list.error} />
      {list.data && schedules.length === 0 ? (
        <p class="empty">
          No schedules. Create one with <code>taskwire schedule create</code> or <code>POST /v1/schedules</code>.
        </p>
      ) : null}
      {schedules.length > 0 ? (
        <div class="table-wrap">
          <table class="table schedules">
            <caption class="sr-only">Schedules by name</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Cron</th>
                <th scope="col">Task</th>
                <th scope="col">Status</th>
                <th scope="col">Next fire</th>
                <th scope="col">Last fired</th>
                <th scope="col">Last run</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {schedules.map((s) => (
                <ScheduleRow
                  key={s.name}
                  s={s}
                  now={now}
                  busy={busy === s.name}
                  confirming={confirmDelete === s.name}
                  onPause={() => void act(s.name, () => pauseSchedule(s.name, !s.paused))}
                  onDelete={() => setConfirmDelete(s.name)}
                  onConfirmDelete={() => void act(s.name, () => deleteSchedule(s.name))}
                  onKeep={() => setConfirmDelete("")}
                />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

interface RowProps {
  s: Schedule;
  now: number;
  busy: boolean;
  confirming: boolean;
  onPause(): void;
  onDelete(): void;
  onConfirmDelete(): void;
  onKeep(): void;
}

function ScheduleRow({ s, now, busy, confirming, onPause, onDelete, onConfirmDelete, onKeep }: RowProps) {
  const task = s.run?.task ?? "";
  return (
    <tr data-schedule={s.name} data-paused={s.paused ? "true" : "false"}>
      <th scope="row">{s.name}</th>
      <td>
        <code>{s.cron}</code>
        {s.timezone && s.timezone !== "UTC" ? <span class="muted"> ({s.timezone})</span> : null}
      </td>
      <td>
        <a href={href("/runs", new URLSearchParams({ task }))}>{task}</a> <Labels labels={s.run?.options?.labels} max={2} />
      </td>
      <td>
        <span class={`badge ${s.paused ? "paused" : "active"}`}>{s.paused ? "paused" : "active"}</span>
      </td>
      <td title={formatTime(s.nextFireAt, true)}>{s.paused ? <span class="muted">—</span> : `${formatTime(s.nextFireAt)} (${formatAgo(s.nextFireAt, now)})`}</td>
      <td>{s.lastFiredAt ? formatAgo(s.lastFiredAt, now) : <span class="muted">never</span>}</td>
      <td class="mono">{s.lastRunId ? <a href={href(`/runs/${s.lastRunId}`)}>{shortId(s.lastRunId)}</a> : null}</td>
      <td class="row-actions">
        {confirming ? (
          <>
            <button type="button" class="danger" disabled={busy} onClick={onConfirmDelete} aria-label={`Confirm deleting schedule ${s.name}`}>
              Confirm delete
            </button>
            <button type="button" onClick={onKeep}>
              Keep
            </button>
          </>
        ) : (
          <>
            <button type="button" disabled={busy} onClick={onPause} aria-label={`${s.paused ? "Resume" : "Pause"} schedule ${s.name}`}>
              {s.paused ? "Resume" : "Pause"}
            </button>
            <button type="button" class="danger" disabled={busy} onClick={onDelete} aria-label={`Delete schedule ${s.name}`}>
              Delete
            </button>
          </>
        )}
      </td>
    </tr>
  );
}
