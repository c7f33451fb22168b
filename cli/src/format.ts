import { AttemptOutcome, EventType, RunState, type RunEvent, type TaskRun } from "@taskwire/protocol";

const short = (s: string, prefix: string): string => s.replace(prefix, "");
export const stateName = (s: RunState): string => short(RunState[s] ?? String(s), "RUN_STATE_");
export const eventName = (e: EventType): string => short(EventType[e] ?? String(e), "EVENT_TYPE_");

function payloadText(p: { contentType: string; data: Uint8Array } | undefined): string {
  if (!p || p.data.length === 0) return "";
  const text = Buffer.from(p.data).toString("utf8");
  return text.length > 500 ? `${text.slice(0, 500)}… (${p.data.length} bytes)` : text;
}

/** A JSON view of a run with enum names and decoded payloads, for --json. */
export function runJson(run: TaskRun): Record<string, unknown> {
  const decode = (p: { contentType: string; data: Uint8Array } | undefined): unknown => {
    if (!p || p.data.length === 0) return null;
    const text = Buffer.from(p.data).toString("utf8");
    try {
      return (p.contentType || "application/json") === "application/json" ? JSON.parse(text) : text;
    } catch {
      return text;
    }
  };
  return {
    id: run.id,
    task: run.task,
    state: RunState[run.state],
    queue: run.queue,
    attempt: run.attempt,
    args: decode(run.args),
    result: decode(run.result),
    error: run.error ?? null,
    cached: run.cached,
    createdAt: run.createdAt?.toISOString() ?? null,
    scheduledAt: run.scheduledAt?.toISOString() ?? null,
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
    nextAttemptAt: run.nextAttemptAt?.toISOString() ?? null,
    workerId: run.workerId,
    progress: run.progress ?? null,
    attempts: run.attempts.map((a) => ({ number: a.number, outcome: AttemptOutcome[a.outcome], workerId: a.workerId, startedAt: a.startedAt?.toISOString() ?? null, finishedAt: a.finishedAt?.toISOString() ?? null, error: a.error ?? null })),
    logs: run.logs.map((l) => ({ time: l.time?.toISOString(), level: l.level, message: l.message, attempt: l.attempt })),
    lastEvent: EventType[run.lastEvent],
    revision: run.revision,
  };
}

export function runText(run: TaskRun): string {
  const lines = [
    `run       ${run.id}`,
    `task      ${run.task} (queue ${run.queue})`,
    `state     ${stateName(run.state)}${run.cached ? " (cached)" : ""}${run.cancelRequested && run.state === RunState.RUN_STATE_RUNNING ? " (cancel requested)" : ""}`,
    `attempt   ${run.attempt}`,
    `args      ${payloadText(run.args)}`,
  ];
  if (run.state === RunState.RUN_STATE_COMPLETED) lines.push(`result    ${payloadText(run.result)}`);
  if (run.error) lines.push(`error     ${run.error.type}: ${run.error.message}`);
  if (run.nextAttemptAt) lines.push(`next try  ${run.nextAttemptAt.toISOString()}`);
  if (run.progress) lines.push(`progress  ${Math.round(run.progress.fraction * 100)}% ${run.progress.message}`);
  lines.push(`created   ${run.createdAt?.toISOString() ?? ""}`);
  if (run.startedAt) lines.push(`started   ${run.startedAt.toISOString()}`);
  if (run.finishedAt) lines.push(`finished  ${run.finishedAt.toISOString()}`);
  for (const a of run.attempts) {
    const dur = a.startedAt && a.finishedAt ? ` ${a.finishedAt.getTime() - a.startedAt.getTime()} ms` : "";
    lines.push(`  attempt ${a.number}: ${short(AttemptOutcome[a.outcome] ?? "", "ATTEMPT_OUTCOME_")} on ${a.workerId}${dur}${a.error ? ` — ${a.error.type}: ${a.error.message}` : ""}`);
  }
  for (const l of run.logs.slice(-10)) lines.push(`  log ${l.time?.toISOString() ?? ""} ${l.level} ${l.message}`);
  return lines.join("\n");
}

export function eventText(e: RunEvent): string {
  const t = e.time?.toISOString() ?? "";
  let detail = "";
  if (e.type === EventType.EVENT_TYPE_LOG && e.log) detail = ` ${e.log.level}: ${e.log.message}`;
  else if (e.type === EventType.EVENT_TYPE_PROGRESS && e.run?.progress) detail = ` ${Math.round(e.run.progress.fraction * 100)}% ${e.run.progress.message}`;
  else if (e.run?.error && (e.type === EventType.EVENT_TYPE_FAILED || e.type === EventType.EVENT_TYPE_RETRY_SCHEDULED || e.type === EventType.EVENT_TYPE_CRASHED || e.type === EventType.EVENT_TYPE_TIMED_OUT))
    detail = ` ${e.run.error.type}: ${e.run.error.message}${e.run.nextAttemptAt ? ` (next attempt ${e.run.nextAttemptAt.toISOString()})` : ""}`;
  else if (e.type === EventType.EVENT_TYPE_COMPLETED && e.run) detail = ` → ${payloadText(e.run.result)}`;
  return `${t}  ${e.runId}  ${e.task.padEnd(16)} ${eventName(e.type).padEnd(16)} ${stateName(e.state).padEnd(14)} attempt ${e.attempt}${detail}  [${e.cursor}]`;
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd()).join("\n");
}
