import { listQueues, listWorkers } from "../api/endpoints.js";
import { ErrorNotice } from "../components/notice.js";
import { useNow, usePoll } from "../hooks.js";
import { formatAgo, formatDuration, shortId } from "../lib/format.js";
import { href } from "../router.js";

/** Worker run ids listed per row; the rest are counted. */
const MAX_RUN_LINKS = 8;

/** Queues (depth, oldest waiting run) and live workers (slots, what they run), refreshed every 2 s. */
export function QueuesPage() {
  const queues = usePoll((signal) => listQueues(signal), [], 2_000);
  const workers = usePoll((signal) => listWorkers(signal), [], 2_000);
  const now = useNow(1_000);
  const qs = [...(queues.data ?? [])].sort((a, b) => Number(b.depth ?? 0) - Number(a.depth ?? 0) || `${a.queue}/${a.task}`.localeCompare(`${b.queue}/${b.task}`));
  const ws = [...(workers.data ?? [])].sort((a, b) => a.id.localeCompare(b.id));

  return (
    <>
      <section aria-labelledby="queues-title">
        <div class="page-head">
          <h1 id="queues-title">Queues</h1>
          <span class="muted">{queues.data ? `${qs.length} task queues, ${qs.reduce((n, q) => n + Number(q.depth ?? 0), 0).toLocaleString()} runs waiting` : ""}</span>
        </div>
        <ErrorNotice error={queues.error} />
        {queues.data && qs.length === 0 ? <p class="empty">No queues yet: they appear when a worker serves a task.</p> : null}
        {qs.length > 0 ? (
          <div class="table-wrap">
            <table class="table queues">
              <caption class="sr-only">Queues by depth</caption>
              <thead>
                <tr>
                  <th scope="col">Queue</th>
                  <th scope="col">Task</th>
                  <th scope="col" class="num">
                    Waiting
                  </th>
                  <th scope="col" class="num">
                    Oldest waiting
                  </th>
                  <th scope="col" class="num">
                    Being worked on
                  </th>
                  <th scope="col" class="num">
                    Workers
                  </th>
                </tr>
              </thead>
              <tbody>
                {qs.map((q) => (
                  <tr key={`${q.queue}/${q.task}`} data-queue={q.queue} data-task={q.task}>
                    <td>{q.queue}</td>
                    <td>
                      <a href={href("/runs", new URLSearchParams({ task: q.task ?? "", queue: q.queue ?? "" }))}>{q.task}</a>
                    </td>
                    <td class="num">{Number(q.depth ?? 0).toLocaleString()}</td>
                    <td class="num">{q.oldestWaitingAgeSeconds ? formatDuration(q.oldestWaitingAgeSeconds * 1_000) : "—"}</td>
                    <td class="num">{Number(q.ackPending ?? 0).toLocaleString()}</td>
                    <td class="num">{q.workers ?? 0}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>

      <section aria-labelledby="workers-title">
        <div class="page-head">
          <h2 id="workers-title">Workers</h2>
          <span class="muted">{workers.data ? `${ws.length} live, ${ws.reduce((n, w) => n + (w.running ?? 0), 0)} runs in flight` : ""}</span>
        </div>
        <ErrorNotice error={workers.error} />
        {workers.data && ws.length === 0 ? <p class="empty">No live workers.</p> : null}
        {ws.length > 0 ? (
          <div class="table-wrap">
            <table class="table workers">
              <caption class="sr-only">Live workers</caption>
              <thead>
                <tr>
                  <th scope="col">Worker</th>
                  <th scope="col">Host (pid)</th>
                  <th scope="col">Tasks</th>
                  <th scope="col">Slots in use</th>
                  <th scope="col">Running</th>
                  <th scope="col">Up</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {ws.map((w) => {
                  const running = w.running ?? 0;
                  const slots = w.concurrency ?? 0;
                  const ids = w.runIds ?? [];
                  return (
                    <tr key={w.id} data-worker={w.id}>
                      <td class="mono">{w.id}</td>
                      <td>
                        {w.host} {w.pid ? <span class="muted">({w.pid})</span> : null}
                      </td>
                      <td>
                        {(w.tasks ?? []).join(", ")}
                        {(w.queues ?? []).some((q) => q !== "default") ? <span class="muted"> on {(w.queues ?? []).join(", ")}</span> : null}
                      </td>
                      <td>
                        <meter min={0} max={Math.max(slots, 1)} value={running} aria-label={`${running} of ${slots} slots in use`} /> {running}/{slots}
                      </td>
                      <td class="mono">
                        {ids.slice(0, MAX_RUN_LINKS).map((id) => (
                          <a key={id} href={href(`/runs/${id}`)} class="run-link">
                            {shortId(id)}
                          </a>
                        ))}
                        {ids.length > MAX_RUN_LINKS ? <span class="muted"> +{ids.length - MAX_RUN_LINKS}</span> : null}
                      </td>
                      <td>{w.startedAt ? formatDuration(now - Date.parse(w.startedAt)) : ""}</td>
                      <td>{formatAgo(w.lastSeen, now)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
    </>
  );
}
