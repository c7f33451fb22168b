import type { Attempt, TaskRun } from "../api/types.js";
import { elapsed, enumLabel, formatDuration, formatTime, parseTime } from "../lib/format.js";
import { FailureView } from "./failure-view.js";

const outcomeOf = (a: Attempt): string => enumLabel(a.outcome ?? "ATTEMPT_OUTCOME_RUNNING", "ATTEMPT_OUTCOME_");

/**
 * A run's attempts on one time axis, from its creation to its end (or now):
 * the wait before each attempt shows as the gap before its bar. A table
 * below says the same in words (for screen readers and exact figures).
 */
export function AttemptsTimeline({ run, now }: { run: TaskRun; now: number }) {
  const attempts = run.attempts ?? [];
  if (attempts.length === 0) return <p class="muted">No attempt has started yet.</p>;
  const t0 = parseTime(run.createdAt) ?? parseTime(attempts[0]?.startedAt) ?? now;
  const ends = attempts.map((a) => parseTime(a.finishedAt) ?? now);
  const t1 = Math.max(parseTime(run.finishedAt) ?? 0, ...ends, t0 + 1);
  const pct = (t: number): number => ((t - t0) / (t1 - t0)) * 100;
  return (
    <div>
      <div class="timeline" aria-hidden="true">
        {attempts.map((a, i) => {
          const s = parseTime(a.startedAt) ?? t0;
          const e = ends[i] ?? now;
          return (
            <div class="timeline-row" key={a.number ?? i}>
              <span class="timeline-label">#{a.number ?? i + 1}</span>
              <span class="timeline-track">
                <span class={`timeline-bar outcome-${outcomeOf(a).replace(/ /g, "-")}`} style={{ left: `${pct(s)}%`, width: `${Math.max(pct(e) - pct(s), 0.5)}%` }} title={`${outcomeOf(a)}, ${formatDuration(e - s)}`} />
              </span>
            </div>
          );
        })}
        <div class="timeline-axis">
          <span>{formatTime(t0, true)}</span>
          <span>{formatDuration(t1 - t0)}</span>
        </div>
      </div>
      <table class="table compact">
        <caption class="sr-only">Attempts</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Outcome</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
            <th scope="col">Worker</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {attempts.map((a, i) => (
            <tr key={a.number ?? i} data-attempt={a.number}>
              <td>{a.number}</td>
              <td>
                <span class={`badge outcome-${outcomeOf(a).replace(/ /g, "-")}`}>{outcomeOf(a)}</span>
              </td>
              <td>{formatTime(a.startedAt, true)}</td>
              <td>{formatDuration(elapsed(a.startedAt, a.finishedAt, now))}</td>
              <td class="mono">{a.workerId}</td>
              <td>{a.error ? <FailureView failure={a.error} open={false} /> : null}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
