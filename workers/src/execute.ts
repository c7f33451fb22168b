import type { JsMsg } from "@nats-io/jetstream";
import { type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { AnyTaskDefinition } from "@taskwire/client";
import { decodeRunMessage, EventType } from "@taskwire/protocol";
import { type Claimed, claimRun, processSpan, RunLog, type TaskSpec, withSpan } from "@taskwire/core";
import { toSubmitOptions } from "@taskwire/client/internal";
import { invoke } from "./attempt.js";
import type { ExecDeps } from "./deps.js";
import { hasHooks, runHooks } from "./hooks.js";
import { type Recorded, recordOutcome } from "./record.js";

export type { ExecDeps } from "./deps.js";

const tracer = trace.getTracer("@taskwire/worker");

/** The span's outcome attribute for each recorded event. */
const OUTCOME_OF: Partial<Record<EventType, string>> = {
  [EventType.EVENT_TYPE_COMPLETED]: "completed",
  [EventType.EVENT_TYPE_FAILED]: "failed",
  [EventType.EVENT_TYPE_TIMED_OUT]: "failed",
  [EventType.EVENT_TYPE_RETRY_SCHEDULED]: "retry",
  [EventType.EVENT_TYPE_CANCELLED]: "cancelled",
};

/** A definition's options never change: mapped to its execution spec once. */
const specs = new WeakMap<AnyTaskDefinition, TaskSpec>();
function specOf(def: AnyTaskDefinition): TaskSpec {
  let s = specs.get(def);
  if (!s) {
    const o = def.options;
    specs.set(def, (s = { name: def.taskName, defaults: toSubmitOptions(o), rateLimit: o.rateLimit, keyConcurrencyLimit: o.keyConcurrencyLimit }));
  }
  return s;
}

/**
 * Executes one delivered run end to end: claim (claim.ts), run the attempt
 * (attempt.ts), record the outcome and settle the message (record.ts), then
 * the worker's hooks (hooks.ts). If this process dies anywhere in between,
 * the message is redelivered and the run resumes from its recorded state.
 */
export async function executeRun(m: JsMsg, def: AnyTaskDefinition, deps: ExecDeps): Promise<void> {
  const msgRun = decodeRunMessage(m.data);
  if (!msgRun) {
    deps.log.error({ seq: m.seq, subject: m.subject }, "undecodable run message; terminating it");
    m.term();
    return;
  }
  const claimed = await claimRun(m, specOf(def), deps, msgRun);
  if (!claimed) return;
  if (!claimed.slotKey) return attempt(m, def, deps, claimed);
  const { run } = claimed.stored;
  const slotKey = claimed.slotKey;
  // Keep the key slot's lease alive while the run executes.
  const renew = setInterval(() => void deps.keySlots.renew(run.task, slotKey, run.id).catch(() => undefined), deps.options.heartbeatMs);
  try {
    await attempt(m, def, deps, claimed);
  } finally {
    clearInterval(renew);
    await deps.keySlots.release(run.task, slotKey, run.id).catch((err: unknown) => deps.log.warn({ err, runId: run.id }, "could not release a key slot; its lease lapses by itself"));
  }
}

/** One claimed attempt inside its `process` span: invoke, record, settle, hooks. */
function attempt(m: JsMsg, def: AnyTaskDefinition, deps: ExecDeps, claimed: Claimed): Promise<void> {
  const { run } = claimed.stored;
  const start = claimed.start;
  // A deferred start that finds the run cancelled or finished aborts the attempt, as a cancel notice would.
  const attemptDeps: ExecDeps = start
    ? {
        ...deps,
        registerAbort: (id, abort) => {
          start.onLost(abort);
          return deps.registerAbort(id, abort);
        },
      }
    : deps;
  const body = async (span: Span): Promise<void> => {
    deps.metrics?.started(run);
    const runLog = new RunLog(deps.store, run.id, run.attempt, deps.log, true, start && (() => start.recorded()), start ? undefined : claimed.stored);
    const began = performance.now();
    const invoked = await invoke(def, run, attemptDeps, runLog);
    const seconds = (performance.now() - began) / 1000;
    // Nothing to wait for unless the task logged or reported progress.
    if (runLog.writing) await runLog.flush();
    else runLog.close();
    let recorded: Recorded;
    try {
      recorded = await recordOutcome(m, run, invoked, deps, start, runLog.latest);
      const event = recorded.step.event;
      deps.metrics?.finished(run, event, invoked.kind === "timeout", seconds);
      span.setAttribute("taskwire.outcome", (event !== undefined && OUTCOME_OF[event]) || "stale");
      if (event === EventType.EVENT_TYPE_FAILED || event === EventType.EVENT_TYPE_TIMED_OUT || event === EventType.EVENT_TYPE_RETRY_SCHEDULED) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: recorded.step.write?.error?.message });
      }
    } finally {
      start?.dispose();
      span.end();
    }
    if (hasHooks(deps.options)) await runHooks(deps.options, deps.log, run, recorded);
  };
  // Without OpenTelemetry set up no active context reaches the task: the
  // span (and the header read for its parent) is skipped.
  return withSpan(
    tracer,
    () => {
      const ps = processSpan(m, run);
      return { name: ps.name, options: { kind: SpanKind.CONSUMER, attributes: ps.attributes }, parent: ps.parent };
    },
    body,
  );
}
