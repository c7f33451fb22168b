import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { followEvents, type StreamStatus } from "../api/events.js";
import type { RunEvent, TaskRun } from "../api/types.js";
import { LiveStatus } from "../components/live-status.js";
import { ErrorNotice } from "../components/notice.js";
import { Labels } from "../components/labels.js";
import { StateBadge } from "../components/state-badge.js";
import { useNow } from "../hooks.js";
import { filterFromParams, filterToParams, timeWindow, tokenBefore } from "../lib/filters.js";
import { elapsed, formatAgo, formatDuration, formatTime, shortId } from "../lib/format.js";
import { href } from "../router.js";
import { RunFilters } from "./run-filters.js";
import { loadRunsPage, PAGE_SIZE } from "./runs-data.js";
import { applyEvents, type LiveRows, MAX_LIVE_ROWS } from "./runs-live.js";

/** Events are applied in batches at most this often, so a busy stream costs one render per batch. */
const FLUSH_MS = 50;

/**
 * The runs list (mount it with `key` = the filter's parameters, so a new
 * filter starts on its first page): one page of ListRuns (newest first), filtered, paged with
 * page tokens, and kept live by the event stream (new runs appear on the
 * first page, shown runs change state in place).
 */
export function RunsPage({ params }: { params: URLSearchParams }) {
  const filterKey = filterToParams(filterFromParams(params)).toString();
  const filter = useMemo(() => filterFromParams(new URLSearchParams(filterKey)), [filterKey]);
  const firstToken = useMemo(() => {
    const { until } = timeWindow(filter);
    return until ? tokenBefore(until) : "";
  }, [filter]);
  // Tokens of the pages after the first, so "Newer" can go back.
  const [tokens, setTokens] = useState<string[]>([]);
  const token = tokens.at(-1) ?? firstToken;
  const [reloads, setReloads] = useState(0);
  const [live, setLive] = useState<LiveRows>({ rows: [], hidden: 0 });
  const [page, setPage] = useState<{ next: string; scanned: number; loading: boolean; error: Error | undefined }>({ next: "", scanned: 0, loading: true, error: undefined });
  const [status, setStatus] = useState<StreamStatus>("connecting");
  const now = useNow(5_000);

  const acceptNew = tokens.length === 0 && timeWindow(filter).until === 0;
  const ctx = useRef({ filter, acceptNew, hasNext: false });
  ctx.current = { filter, acceptNew, hasNext: page.next !== "" };

  // Events since the current load began: re-applied onto its answer, which may predate them.
  const sinceLoad = useRef<RunEvent[]>([]);
  const queue = useRef<RunEvent[]>([]);
  const flushTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const onEvent = (e: RunEvent): void => {
    queue.current.push(e);
    sinceLoad.current.push(e);
    flushTimer.current ??= setTimeout(() => {
      flushTimer.current = undefined;
      const batch = queue.current;
      queue.current = [];
      setLive((prev) => applyEvents(prev, batch, ctx.current));
    }, FLUSH_MS);
  };
  useEffect(() => () => clearTimeout(flushTimer.current), []);

  useEffect(() => {
    const ctl = new AbortController();
    sinceLoad.current = [];
    setPage((p) => ({ ...p, loading: true, error: undefined }));
    const partial = (rows: readonly TaskRun[]): void => {
      if (!ctl.signal.aborted) setLive(applyEvents({ rows: [...rows], hidden: 0 }, sinceLoad.current, { ...ctx.current, hasNext: true }));
    };
    loadRunsPage(filter, token, ctl.signal, partial).then(
      (res) => {
        if (ctl.signal.aborted) return;
        const hasNext = res.next !== "";
        setLive(applyEvents({ rows: res.rows, hidden: 0 }, sinceLoad.current, { ...ctx.current, hasNext }));
        setPage({ next: res.next, scanned: res.scanned, loading: false, error: undefined });
      },
      (err: unknown) => {
        if (!ctl.signal.aborted) setPage((p) => ({ ...p, loading: false, error: err instanceof Error ? err : new Error(String(err)) }));
      },
    );
    return () => ctl.abort();
  }, [filter, token, reloads]);

  // Every change of the runs of this task, new runs included. States are
  // checked here, not by the broker: a shown run that leaves the filtered
  // states must still change in place (the unfiltered list, the default
  // view, takes the whole stream anyway).
  useEffect(
    () =>
      followEvents({
        tasks: filter.task ? [filter.task] : undefined,
        onEvent,
        onStatus: setStatus,
      }),
    // onEvent only reads refs.
    [filter],
  );

  const older = (): void => {
    if (page.next) setTokens((t) => [...t, page.next]);
  };
  const newer = (): void => setTokens((t) => t.slice(0, -1));
  const showHidden = (): void => {
    setTokens([]);
    setReloads((r) => r + 1);
  };

  return (
    <section aria-labelledby="runs-title">
      <div class="page-head">
        <h1 id="runs-title">Runs</h1>
        <LiveStatus status={status} />
      </div>
      <RunFilters filter={filter} />
      <ErrorNotice error={page.error} />
      {live.hidden > 0 ? (
        <button type="button" class="banner" onClick={showHidden}>
          {live.hidden.toLocaleString()} newer {live.hidden === 1 ? "run" : "runs"} not shown (the page holds {MAX_LIVE_ROWS}) — show the newest
        </button>
      ) : null}
      <div class="table-wrap">
        <table class="table runs" data-live={status === "live" ? "true" : "false"} aria-busy={page.loading ? "true" : "false"}>
          <caption class="sr-only">Runs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Task</th>
              <th scope="col">Queue</th>
              <th scope="col">State</th>
              <th scope="col">Attempt</th>
              <th scope="col">Created</th>
              <th scope="col">Duration</th>
              <th scope="col">Labels</th>
            </tr>
          </thead>
          <tbody>
            {live.rows.map((run) => (
              <RunRow key={run.id} run={run} now={now} />
            ))}
          </tbody>
        </table>
      </div>
      {!page.loading && live.rows.length === 0 && !page.error ? <p class="empty">{page.next ? "No run matched in the runs scanned so far." : "No runs match."}</p> : null}
      <nav class="pager" aria-label="Pages">
        <button type="button" onClick={newer} disabled={tokens.length === 0}>
          ← Newer
        </button>
        <span class="muted">
          {page.loading ? "Loading…" : `Page ${tokens.length + 1}`}
          {page.scanned > live.rows.length && !page.loading ? ` · ${page.scanned.toLocaleString()} runs scanned` : ""}
        </span>
        <button type="button" onClick={older} disabled={!page.next || page.loading}>
          {page.scanned > PAGE_SIZE && live.rows.length < PAGE_SIZE ? "Scan older →" : "Older →"}
        </button>
      </nav>
    </section>
  );
}

function RunRow({ run, now }: { run: TaskRun; now: number }) {
  return (
    <tr data-run-id={run.id} data-state={run.state}>
      <td class="mono">
        <a href={href(`/runs/${run.id}`)} title={run.id} aria-label={`Run ${run.id}`}>
          {shortId(run.id)}
        </a>
      </td>
      <td>{run.task}</td>
      <td>{run.queue || "default"}</td>
      <td>
        <StateBadge state={run.state} cancelRequested={run.cancelRequested} />
        {run.progress && run.state === "RUN_STATE_RUNNING" ? <span class="muted"> {Math.round((run.progress.fraction ?? 0) * 100)}%</span> : null}
      </td>
      <td class="num">{run.attempt ?? 0}</td>
      <td title={formatTime(run.createdAt, true)}>{formatAgo(run.createdAt, now)}</td>
      <td class="num">{formatDuration(elapsed(run.startedAt, run.finishedAt, now))}</td>
      <td>
        <Labels labels={run.options?.labels} />
      </td>
    </tr>
  );
}
