import { useState } from "preact/hooks";
import { actionsText, type Automation, conditionText, deleteAutomation, durationText, listAutomations, pauseAutomation, scopeText } from "../api/automations.js";
import { ErrorNotice } from "../components/notice.js";
import { useNow, usePoll } from "../hooks.js";
import { formatAgo, formatTime, shortId } from "../lib/format.js";
import { href } from "../router.js";

/** The queue of the automations' action runs (deliveries): their runs are listed on the runs page. */
const ACTION_QUEUE = "taskwire-automations";

/**
 * Automations: what fires each one and what it does, how often it fired
 * and was held back by its cool-down, its recent firings with their action
 * runs (deliveries); pause, resume, delete. Creating one is done with
 * `taskwire automation create` or `POST /v1/automations`.
 */
export function AutomationsPage() {
  const list = usePoll((signal) => listAutomations(signal), [], 5_000);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState("");
  const [confirmDelete, setConfirmDelete] = useState("");
  const [open, setOpen] = useState("");
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

  const automations = [...(list.data ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <section aria-labelledby="automations-title">
      <div class="page-head">
        <h1 id="automations-title">Automations</h1>
        <span class="muted">{list.data ? `${automations.length} ${automations.length === 1 ? "automation" : "automations"}` : ""}</span>
        <a href={href("/runs", new URLSearchParams({ queue: ACTION_QUEUE }))}>Deliveries (action runs)</a>
      </div>
      <ErrorNotice error={error ?? list.error} />
      {list.data && automations.length === 0 ? (
        <p class="empty">
          No automations. Create one with <code>taskwire automation create</code> or <code>POST /v1/automations</code> (see docs/automations.md).
        </p>
      ) : null}
      {automations.length > 0 ? (
        <div class="table-wrap">
          <table class="table automations">
            <caption class="sr-only">Automations by name</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">When</th>
                <th scope="col">Runs</th>
                <th scope="col">Then</th>
                <th scope="col">Status</th>
                <th scope="col">Fired</th>
                <th scope="col">Last fired</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {automations.map((a) => (
                <AutomationRows
                  key={a.name}
                  a={a}
                  now={now}
                  busy={busy === a.name}
                  confirming={confirmDelete === a.name}
                  open={open === a.name}
                  onToggle={() => setOpen(open === a.name ? "" : a.name)}
                  onPause={() => void act(a.name, () => pauseAutomation(a.name, !a.paused))}
                  onDelete={() => setConfirmDelete(a.name)}
                  onConfirmDelete={() => void act(a.name, () => deleteAutomation(a.name))}
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
  a: Automation;
  now: number;
  busy: boolean;
  confirming: boolean;
  open: boolean;
  onToggle(): void;
  onPause(): void;
  onDelete(): void;
  onConfirmDelete(): void;
  onKeep(): void;
}

function AutomationRows({ a, now, busy, confirming, open, onToggle, onPause, onDelete, onConfirmDelete, onKeep }: RowProps) {
  const s = a.status ?? {};
  const failing = !a.paused && !!s.lastError;
  const status = a.paused ? "paused" : failing ? "failing" : "active";
  const recent = s.recent ?? [];
  return (
    <>
      <tr data-automation={a.name} data-paused={a.paused ? "true" : "false"}>
        <th scope="row">
          <button type="button" class="link" aria-expanded={open} aria-controls={`firings-${a.name}`} onClick={onToggle} title="Recent firings">
            {a.name}
          </button>
          {a.description ? <div class="muted small">{a.description}</div> : null}
        </th>
        <td>
          {conditionText(a)}
          {Number(a.cooldownMs ?? 0) > 0 ? <div class="muted small">cool-down {durationText(a.cooldownMs)}</div> : null}
        </td>
        <td>{scopeText(a)}</td>
        <td>{actionsText(a)}</td>
        <td>
          <span class={`badge ${a.paused ? "paused" : failing ? "failing" : "active"}`} title={s.lastError ? `${formatTime(s.lastErrorAt)}: ${s.lastError}` : undefined}>
            {status}
          </span>
        </td>
        <td>
          {Number(s.fired ?? 0)}
          {Number(s.suppressed ?? 0) > 0 ? <span class="muted small"> ({Number(s.suppressed)} held back)</span> : null}
        </td>
        <td title={formatTime(s.lastFiredAt, true)}>{s.lastFiredAt ? formatAgo(s.lastFiredAt, now) : <span class="muted">never</span>}</td>
        <td class="row-actions">
          {confirming ? (
            <>
              <button type="button" class="danger" disabled={busy} onClick={onConfirmDelete} aria-label={`Confirm deleting automation ${a.name}`}>
                Confirm delete
              </button>
              <button type="button" onClick={onKeep}>
                Keep
              </button>
            </>
          ) : (
            <>
              <button type="button" disabled={busy} onClick={onPause} aria-label={`${a.paused ? "Resume" : "Pause"} automation ${a.name}`}>
                {a.paused ? "Resume" : "Pause"}
              </button>
              <button type="button" class="danger" disabled={busy} onClick={onDelete} aria-label={`Delete automation ${a.name}`}>
                Delete
              </button>
            </>
          )}
        </td>
      </tr>
      {open ? (
        <tr id={`firings-${a.name}`} class="detail-row">
          <td colSpan={8}>
            {s.lastError ? (
              <p class="notice error">
                Last error {formatAgo(s.lastErrorAt, now)}: {s.lastError}
              </p>
            ) : null}
            {recent.length === 0 ? (
              <p class="muted">No firings yet.</p>
            ) : (
              <table class="table firings">
                <caption>Recent firings of {a.name}, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Run</th>
                    <th scope="col">What happened</th>
                    <th scope="col">Action runs</th>
                  </tr>
                </thead>
                <tbody>
                  {recent.map((f) => (
                    <tr key={f.id} data-firing={f.id}>
                      <td title={formatTime(f.time, true)}>{formatAgo(f.time, now)}</td>
                      <td class="mono">{f.runId ? <a href={href(`/runs/${f.runId}`)}>{shortId(f.runId)}</a> : <span class="muted">—</span>}</td>
                      <td>{f.summary}</td>
                      <td class="mono">
                        {(f.actionRunIds ?? []).map((id, i) =>
                          id ? (
                            <a key={id} href={href(`/runs/${id}`)} class="chip">
                              {shortId(id)}
                            </a>
                          ) : (
                            <span key={`x${i}`} class="chip muted" title="not submitted: see the last error">
                              —
                            </span>
                          ),
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </td>
        </tr>
      ) : null}
    </>
  );
}
