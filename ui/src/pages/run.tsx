import { useEffect, useRef, useState } from "preact/hooks";
import { cancelRun, getRun, retryRun } from "../api/endpoints.js";
import { followEvents, type StreamStatus } from "../api/events.js";
import type { RunEvent, TaskRun, UiConfig } from "../api/types.js";
import { FailureView } from "../components/failure-view.js";
import { Labels } from "../components/labels.js";
import { LiveStatus } from "../components/live-status.js";
import { ErrorNotice } from "../components/notice.js";
import { PayloadView } from "../components/payload-view.js";
import { StateBadge } from "../components/state-badge.js";
import { AttemptsTimeline } from "../components/timeline.js";
import { useNow } from "../hooks.js";
import { elapsed, enumLabel, formatAgo, formatDuration, formatTime, isTerminal, stateLabel } from "../lib/format.js";
import { traceIdOf, traceUrl } from "../lib/trace.js";
import { href } from "../router.js";
import { revisionOf } from "../lib/runs.js";

/** Events kept on the page (a run retains at most 64 revisions; this bounds a long live session). */
const MAX_EVENTS = 500;

/**
 * One run: its record, kept current by its event stream (whose history
 * fills the events table), with Cancel and Retry.
 */
export function RunPage({ id, config }: { id: string; config: UiConfig }) {
  const [run, setRun] = useState<TaskRun | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [status, setStatus] = useState<StreamStatus>("connecting");
  const [busy, setBusy] = useState<"" | "cancel" | "retry">("");
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [reason, setReason] = useState("");
  const now = useNow(1_000);
  const revision = useRef(0);

  /** Takes a record if it is newer than the one shown. */
  const take = (r: TaskRun): void => {
    if (revisionOf(r) < revision.current) return;
    revision.current = revisionOf(r);
    setRun(r);
  };
  const refetch = (): void => {
    getRun(id).then(take, (err: unknown) => setError(err instanceof Error ? err : new Error(String(err))));
  };

  useEffect(() => {
    revision.current = 0;
    setRun(undefined);
    setEvents([]);
    setError(undefined);
    refetch();
    let pending: RunEvent[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = followEvents({
      runIds: [id],
      onStatus: setStatus,
      onEvent: (e) => {
        pending.push(e);
        timer ??= setTimeout(() => {
          timer = undefined;
          const batch = pending;
          pending = [];
          setEvents((prev) => {
            const seen = new Set(prev.map((x) => x.cursor));
            const next = [...prev, ...batch.filter((x) => !seen.has(x.cursor))];
            return next.length > MAX_EVENTS ? next.slice(-MAX_EVENTS) : next;
          });
          const last = batch.at(-1)?.run;
          if (!last) return;
          // Event snapshots carry a large result only by reference: read the record for it.
          if (last.resultRef && !last.result && last.state === "RUN_STATE_COMPLETED") refetch();
          else take(last);
        }, 50);
      },
    });
    return () => {
      stop();
      clearTimeout(timer);
    };
  }, [id]);

  const act = async (what: "cancel" | "retry"): Promise<void> => {
    setBusy(what);
    setError(undefined);
    try {
      take(what === "cancel" ? await cancelRun(id, reason || "cancelled from the web UI") : await retryRun(id));
      setConfirmCancel(false);
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy("");
    }
  };

  if (!run) {
    return (
      <section aria-labelledby="run-title">
        <h1 id="run-title">Run {id}</h1>
        {error ? <ErrorNotice error={error} /> : <p aria-busy="true">Loading…</p>}
      </section>
    );
  }

  const trace = traceUrl(config.traceUrl, run.traceParent);
  const canRetry = run.state === "RUN_STATE_FAILED" || run.state === "RUN_STATE_CANCELLED";
  const canCancel = !isTerminal(run.state) && !run.cancelRequested;
  const o = run.options ?? {};

  return (
    <section aria-labelledby="run-title" class="run-page" data-run-id={run.id} data-state={run.state}>
      <p class="crumbs">
        <a href={href("/runs")}>Runs</a> ›{" "}
        <a href={href("/runs", new URLSearchParams({ task: run.task ?? "" }))}>{run.task}</a>
      </p>
      <div class="page-head">
        <h1 id="run-title">
          {run.task} <StateBadge state={run.state} cancelRequested={run.cancelRequested} />
        </h1>
        <LiveStatus status={status} />
      </div>
      <p class="mono run-id">{run.id}</p>
      <div class="actions">
        {canRetry ? (
          <button type="button" class="primary" disabled={busy !== ""} onClick={() => void act("retry")}>
            {busy === "retry" ? "Retrying…" : "Retry"}
          </button>
        ) : null}
        {canCancel && !confirmCancel ? (
          <button type="button" class="danger" disabled={busy !== ""} onClick={() => setConfirmCancel(true)}>
            Cancel run
          </button>
        ) : null}
        {canCancel && confirmCancel ? (
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              void act("cancel");
            }}
          >
            <label>
              Reason <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder="optional" />
            </label>
            <button type="submit" class="danger" disabled={busy !== ""}>
              {busy === "cancel" ? "Cancelling…" : "Confirm cancel"}
            </button>
            <button type="button" onClick={() => setConfirmCancel(false)}>
              Keep running
            </button>
          </form>
        ) : null}
        {trace ? (
          <a class="button" href={trace} target="_blank" rel="noopener noreferrer">
            View trace ↗
          </a>
        ) : null}
      </div>
      <ErrorNotice error={error} />

      <dl class="facts">
        <Fact name="State" value={stateLabel(run.state)} />
        <Fact name="Queue" value={run.queue || "default"} />
        <Fact name="Attempt" value={String(run.attempt ?? 0)} />
        <Fact name="Created" value={formatTime(run.createdAt, true)} />
        {run.scheduledAt && run.scheduledAt !== run.createdAt ? <Fact name="Due" value={`${formatTime(run.scheduledAt, true)} (${formatAgo(run.scheduledAt, now)})`} /> : null}
        <Fact name="Started" value={formatTime(run.startedAt, true)} />
        <Fact name="Finished" value={formatTime(run.finishedAt, true)} />
        <Fact name="Duration" value={formatDuration(elapsed(run.startedAt, run.finishedAt, now))} />
        {run.nextAttemptAt ? <Fact name="Next attempt" value={`${formatTime(run.nextAttemptAt, true)} (${formatAgo(run.nextAttemptAt, now)})`} /> : null}
        <Fact name="Worker" value={run.workerId ?? ""} />
        {o.idempotencyKey ? <Fact name="Idempotency key" value={o.idempotencyKey} /> : null}
        {o.concurrencyKey ? <Fact name="Concurrency key" value={o.concurrencyKey} /> : null}
        {o.timeoutMs ? <Fact name="Timeout" value={formatDuration(Number(o.timeoutMs))} /> : null}
        {o.retry?.maxRetries ? <Fact name="Retries" value={String(o.retry.maxRetries)} /> : null}
        {run.cached ? <Fact name="Cached" value="yes, from the cache" /> : null}
        {run.namespace ? <Fact name="Namespace" value={run.namespace} /> : null}
        {traceIdOf(run.traceParent) ? <Fact name="Trace id" value={traceIdOf(run.traceParent)} /> : null}
        {o.labels && Object.keys(o.labels).length > 0 ? (
          <div class="fact">
            <dt>Labels</dt>
            <dd>
              <Labels labels={o.labels} max={32} />
            </dd>
          </div>
        ) : null}
      </dl>

      {run.progress && !isTerminal(run.state) ? (
        <div class="progress-block">
          <label for="run-progress">Progress {run.progress.message ? `— ${run.progress.message}` : ""}</label>
          <progress id="run-progress" max={1} value={run.progress.fraction ?? 0}>
            {Math.round((run.progress.fraction ?? 0) * 100)}%
          </progress>
        </div>
      ) : null}

      <div class="grid-2">
        <section aria-labelledby="args-title">
          <h2 id="args-title">Arguments</h2>
          <PayloadView payload={run.args} label="Arguments" />
        </section>
        <section aria-labelledby="result-title">
          <h2 id="result-title">{run.error ? "Error" : "Result"}</h2>
          {run.error ? <FailureView failure={run.error} /> : null}
          {run.state === "RUN_STATE_COMPLETED" ? (
            run.result ? (
              <PayloadView payload={run.result} label="Result" />
            ) : run.resultRef ? (
              <p class="muted">Stored in the object store as {run.resultRef}.</p>
            ) : (
              <p class="muted">none</p>
            )
          ) : null}
          {!run.error && run.state !== "RUN_STATE_COMPLETED" ? <p class="muted">Not finished.</p> : null}
        </section>
      </div>

      <section aria-labelledby="attempts-title">
        <h2 id="attempts-title">Attempts</h2>
        <AttemptsTimeline run={run} now={now} />
      </section>

      <section aria-labelledby="logs-title">
        <h2 id="logs-title">Logs</h2>
        {(run.logs ?? []).length === 0 ? (
          <p class="muted">No log lines.</p>
        ) : (
          <table class="table compact logs">
            <caption class="sr-only">Log lines, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Level</th>
                <th scope="col">Attempt</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {(run.logs ?? []).map((l, i) => (
                <tr key={i} class={`level-${l.level ?? "info"}`}>
                  <td class="mono">{formatTime(l.time, true)}</td>
                  <td>{l.level}</td>
                  <td class="num">{l.attempt}</td>
                  <td class="pre">{l.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="events-title">
        <h2 id="events-title">Events</h2>
        {events.length === 0 ? (
          <p class="muted">{status === "live" ? "No events retained." : "Loading events…"}</p>
        ) : (
          <table class="table compact events">
            <caption class="sr-only">Events, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">State</th>
                <th scope="col">Attempt</th>
                <th scope="col">Cursor</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.cursor} data-event={e.type}>
                  <td class="mono">{formatTime(e.time, true)}</td>
                  <td>
                    {enumLabel(e.type, "EVENT_TYPE_")}
                    {e.log?.message ? <span class="muted"> — {e.log.message}</span> : null}
                    {e.type === "EVENT_TYPE_PROGRESS" && e.run?.progress ? <span class="muted"> — {Math.round((e.run.progress.fraction ?? 0) * 100)}%</span> : null}
                  </td>
                  <td>
                    <StateBadge state={e.state} />
                  </td>
                  <td class="num">{e.attempt}</td>
                  <td class="mono muted">{e.cursor}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </section>
  );
}

function Fact({ name, value }: { name: string; value: string }) {
  if (!value) return null;
  return (
    <div class="fact">
      <dt>{name}</dt>
      <dd>{value}</dd>
    </div>
  );
}
