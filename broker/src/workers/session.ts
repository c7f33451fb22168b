import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Subscription } from "@nats-io/transport-node";
import { type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { status as Status } from "@grpc/grpc-js";
import {
  type AttemptFinished,
  type AttemptResult,
  type ConnectRequest,
  type ConnectResponse,
  decodeRunMessage,
  EventType,
  failure,
  type Failure,
  type HeldRun,
  isTerminal,
  type Payload,
  RunState,
  type TaskRun,
} from "@taskwire/protocol";
import {
  type Claimed,
  claimRun,
  completedResult,
  ensureTaskConsumer,
  type ExecDeps,
  PRIORITY_LEVELS,
  processSpan,
  type PriorityLevel,
  recordAttempt,
  RunLog,
  RUNS_STREAM,
  RunStore,
  traceParentOf,
  type WorkerRecord,
} from "@taskwire/core";
import type { Logger } from "pino";
import type { RemoteTask, SessionSpec } from "./hello.js";
import type { RemoteWorkers } from "./registry.js";

const tracer = trace.getTracer("@taskwire/broker");

/** Most messages one pull asks for. */
const MAX_FETCH = 256;
/** A pull waits this long for messages before it is made again, in ms (a pull parked on a dead consumer leader is replaced within seconds). */
const FETCH_EXPIRES_MS = 5_000;
/** First and largest pause before a failed pull is tried again, in ms. */
const PULL_RETRY_MS = [250, 5_000] as const;
/** Delay of the nak that hands back a message whose run could not be claimed or recorded, in ms (NATS is failing: not at once). */
const WRITE_FAILED_NAK_MS = 1_000;
/** Delay of the nak that hands back a run of another namespace, in ms (for a worker of its own namespace). */
const OTHER_NAMESPACE_NAK_MS = 1_000;
/**
 * How long after its timeout (or a cancel notice) a remote attempt may take
 * to report before the broker records the timeout (or the cancel) itself, in
 * ms: the worker's own abort grace plus the trip. The worker's slot stays
 * taken until it reports the attempt finished.
 */
const REPORT_GRACE_MS = 5_000;
/** Longest timer Node arms (about 24.8 days); a longer attempt timeout is left to the worker. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Failure fields a worker reports are cut to these lengths, in characters. */
const MAX_FAILURE_TYPE = 256;
const MAX_FAILURE_MESSAGE = 16_384;
const MAX_FAILURE_STACK = 65_536;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Where a session's messages to its worker go: the gRPC stream. */
export interface SessionOutput {
  /** The worker's address as the broker sees it (for its record). */
  readonly peer: string;
  send(msg: ConnectResponse): void;
  /** Ends the stream: with a status, or OK when the worker closed its side. */
  end(status?: { code: Status; details: string }): void;
}

/** Why a session ends, which decides what becomes of the runs it holds. */
export type EndReason =
  /** The worker closed the stream or the stream broke: its runs are no longer heartbeated (back in play within 2 × the heartbeat unless it reconnects and lists them). */
  | { closed: string }
  /** The worker sent nothing for 4 of its heartbeat intervals: its runs are handed back at once. */
  | { silent: number }
  /** The broker stops: runs are no longer heartbeated here; the worker reconnects elsewhere. */
  | { shutdown: true }
  /** The same worker connected again; runs it did not list are handed back at once. */
  | { superseded: true }
  /** The session failed (its caller ends the stream with the error): as `closed`, the stream left alone. */
  | { failed: string };

/** A run assigned to the worker (or adopted after a reconnect), until the worker reports it finished. */
export interface Assignment {
  run: TaskRun;
  /** The delivered message; undefined for a run adopted from a session on another broker (its message comes back to some claim, which asks this session). */
  m: JsMsg | undefined;
  /** The per-key concurrency slot it holds; "" when none. */
  slotKey: string;
  runLog: RunLog;
  span: Span | undefined;
  /** The broker's backstop for the attempt's timeout or a cancel. */
  timer: NodeJS.Timeout | undefined;
  /** Renews the key slot's lease. */
  renew: NodeJS.Timeout | undefined;
  /** Its end is being (or was) recorded: the worker reported, or the backstop fired. */
  recorded: boolean;
  /** The worker reported it finished (its slot may free once recorded). */
  reported: boolean;
}

/** What the worker reported, as the lifecycle's attempt result (before a completed result is stored). */
type Reported = { kind: "completed"; payload: Payload } | Exclude<AttemptResult, { kind: "completed" }>;

function clip(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s;
}

/** The Failure a worker reported, cut to size and never empty. */
function cleanFailure(f: Failure | undefined): Failure {
  return failure(clip(f?.type || "Error", MAX_FAILURE_TYPE), clip(f?.message ?? "", MAX_FAILURE_MESSAGE), { stack: clip(f?.stack ?? "", MAX_FAILURE_STACK), retryable: f?.retryable ?? false });
}

function reportedOf(f: AttemptFinished, run: TaskRun): Reported {
  if (f.result) return { kind: "completed", payload: f.result };
  if (f.failure) return { kind: "failed", failure: cleanFailure(f.failure.failure), retryAfterMs: f.failure.retryAfterMs !== undefined && f.failure.retryAfterMs >= 0 ? f.failure.retryAfterMs : undefined };
  if (f.timedOut) return { kind: "timedOut", timeoutMs: run.options?.timeoutMs ?? 0 };
  if (f.cancelled) return { kind: "cancelled", reason: clip(f.cancelled.reason, 1024) };
  return { kind: "failed", failure: failure("WorkerProtocolError", "the worker reported the attempt finished without an outcome (AttemptFinished needs result, failure, timed_out or cancelled)") };
}

/** Whether a completed result that claims to be JSON is; other content types pass as they are. */
function jsonProblem(p: Payload): string | undefined {
  const ct = p.contentType || "application/json";
  if (ct.split(";")[0]?.trim().toLowerCase() !== "application/json") return undefined;
  try {
    JSON.parse(utf8.decode(p.data));
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** The span's outcome attribute for each recorded event. */
const OUTCOME_OF: Partial<Record<EventType, string>> = {
  [EventType.EVENT_TYPE_COMPLETED]: "completed",
  [EventType.EVENT_TYPE_FAILED]: "failed",
  [EventType.EVENT_TYPE_TIMED_OUT]: "failed",
  [EventType.EVENT_TYPE_RETRY_SCHEDULED]: "retry",
  [EventType.EVENT_TYPE_CANCELLED]: "cancelled",
};

/**
 * One remote worker's session: the broker executes the NATS side of its
 * runs exactly as the TS worker does for itself, with the same core
 * helpers — task consumers, heartbeats, `claimRun`, `recordAttempt`,
 * `RunLog`, rate limits, key slots — and the worker only runs the task.
 *
 * Pulling: one loop per (queue, task, priority level) asks its consumer for
 * as many runs as the worker has slots that no run holds or waits for; what
 * arrives waits here (heartbeated) and is claimed, highest priority first,
 * as slots free up, then assigned. So the worker never gets more runs than
 * its concurrency, and a broker holds at most one pull's worth per consumer
 * beyond that — the TS worker's bound.
 */
export class RemoteSession {
  readonly workerId: string;
  readonly log: Logger;
  readonly #reg: RemoteWorkers;
  readonly #spec: SessionSpec;
  readonly #namespace: string;
  readonly #out: SessionOutput;
  readonly #deps: ExecDeps;
  /** Runs assigned (or adopted), by run id. */
  readonly #held = new Map<string, Assignment>();
  /** Attempts recorded by a backstop whose worker has not reported yet: their slots stay taken. */
  readonly #zombies = new Map<string, Assignment>();
  /** Runs claimed (RUNNING under this worker) but not yet assigned. */
  readonly #claimed = new Set<string>();
  /** Cancel notices for runs not yet assigned. */
  readonly #pendingCancel = new Map<string, string>();
  #claiming = 0;
  readonly #buffers: Record<PriorityLevel, Array<{ m: JsMsg; task: RemoteTask }>> = { high: [], normal: [], low: [] };
  #buffered = 0;
  readonly #fetches = new Set<ConsumerMessages>();
  #waiters: Array<() => void> = [];
  #lastSeen = Date.now();
  #state: "open" | "draining" | "closed" = "open";
  #holderSub: Subscription | undefined;
  readonly #loops: Promise<void>[] = [];
  readonly #startedAt = new Date().toISOString();

  constructor(reg: RemoteWorkers, spec: SessionSpec, namespace: string, out: SessionOutput) {
    this.#reg = reg;
    this.#spec = spec;
    this.#namespace = namespace;
    this.#out = out;
    this.workerId = spec.workerId;
    this.log = reg.log.child({ worker: spec.workerId, sdk: spec.sdk });
    const s = reg.settings;
    this.#deps = {
      ...reg.shared,
      options: { workerId: spec.workerId, heartbeatMs: s.heartbeatMs, maxCrashRetries: s.maxCrashRetries, maxResultBytes: s.maxResultBytes, inlineResultBytes: s.inlineResultBytes },
      log: this.log,
      holders: {
        isHeld: async (workerId, runId) => (workerId === this.workerId ? this.#holds(runId) : RunStore.isHeld(reg.nats.nc, workerId, runId)),
        hold: (runId) => this.#claimed.add(runId),
      },
    };
  }

  #holds(runId: string): boolean {
    return this.#held.has(runId) || this.#claimed.has(runId);
  }

  /** Slots taken: runs assigned, runs being claimed, attempts awaiting their worker's report. */
  get #busy(): number {
    return this.#held.size + this.#claiming + this.#zombies.size;
  }

  /** How many more runs to pull: free slots no buffered run waits for. */
  #want(): number {
    return this.#state === "open" ? this.#spec.concurrency - this.#busy - this.#buffered : 0;
  }

  #notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const r of w) r();
  }

  #changed(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }

  /**
   * Welcomes the worker, takes over the runs it still executes (`moved`:
   * with their messages, from this broker's earlier session of the worker;
   * the rest read from their records), answers holder probes for its id,
   * ensures its tasks' consumers and starts pulling.
   */
  async start(moved: Assignment[]): Promise<void> {
    const reg = this.#reg;
    this.#out.send({ welcome: { workerId: this.workerId, heartbeatIntervalMs: reg.workerIntervalMs, maxResultBytes: reg.settings.maxResultBytes, namespace: this.#namespace } });
    for (const a of moved) {
      this.#adopt(a);
      this.#armTimeout(a);
    }
    const have = new Set(moved.map((a) => a.run.id));
    await Promise.all(this.#spec.running.filter((h) => !have.has(h.runId)).map((h) => this.#adoptFromRecord(h)));
    this.#holderSub = RunStore.answerHolderProbes(reg.nats.nc, this.workerId, (id) => this.#holds(id));
    const consumers: Array<{ task: RemoteTask; queue: string; level: PriorityLevel; name: string }> = [];
    for (const queue of this.#spec.queues) {
      for (const task of this.#spec.tasks.values()) {
        for (const level of PRIORITY_LEVELS) {
          const name = await ensureTaskConsumer(reg.nats, queue, task.spec.name, level, reg.settings.heartbeatMs, task.concurrencyLimit, this.log);
          consumers.push({ task, queue, level, name });
        }
      }
    }
    if (this.#state === "closed") return;
    for (const c of consumers) this.#loops.push(this.#pull(c.task, c.queue, c.level, c.name));
    this.log.info({ tasks: [...this.#spec.tasks.keys()], queues: this.#spec.queues, concurrency: this.#spec.concurrency, adopted: this.#held.size }, "remote worker connected");
  }

  /** A run whose record says this worker still executes this attempt: held again, without its message. */
  async #adoptFromRecord(h: HeldRun): Promise<void> {
    let stored;
    try {
      stored = await this.#reg.shared.store.get(h.runId, { leader: true });
    } catch (err) {
      this.log.warn({ err, runId: h.runId }, "could not read a run the worker still executes; it is left to the crash path");
      return;
    }
    const run = stored?.run;
    if (!run || run.state !== RunState.RUN_STATE_RUNNING || run.attempt !== h.attempt || run.workerId !== this.workerId) {
      // Taken over or finished meanwhile: its outcome would change nothing.
      this.#out.send({ cancel: { runId: h.runId, attempt: h.attempt, reason: "this attempt is no longer the run's running attempt (taken over or finished while the worker was disconnected)" } });
      return;
    }
    this.#adopt({ run, m: undefined, slotKey: "", runLog: new RunLog(this.#reg.shared.store, run.id, run.attempt, this.log, false), span: undefined, timer: undefined, renew: undefined, recorded: false, reported: false });
  }

  #adopt(a: Assignment): void {
    this.#held.set(a.run.id, a);
    this.#reg.byRun.set(a.run.id, this);
  }

  /**
   * The assignments a reconnected worker still executes (listed in its
   * hello), taken out of this session with their messages, which stay
   * heartbeated; the new session adopts them.
   */
  handOver(running: HeldRun[]): Assignment[] {
    const out: Assignment[] = [];
    for (const h of running) {
      const a = this.#held.get(h.runId);
      if (!a || a.run.attempt !== h.attempt || a.recorded) continue;
      this.#held.delete(h.runId);
      // Its timers belong to this session: the new one arms its own.
      clearTimeout(a.timer);
      a.timer = undefined;
      out.push(a);
    }
    return out;
  }

  /** The worker's entry in the taskwire_workers bucket (core/src/worker-registry.ts): what it serves and runs now. */
  record(intervalMs: number): WorkerRecord {
    const ids = [...this.#held.keys()];
    return {
      id: this.workerId,
      host: this.#out.peer,
      pid: 0,
      tasks: [...this.#spec.tasks.keys()],
      queues: this.#spec.queues,
      concurrency: this.#spec.concurrency,
      running: ids.length,
      runIds: ids.slice(0, 100),
      lastSeen: new Date().toISOString(),
      startedAt: this.#startedAt,
      intervalMs,
    };
  }

  /** Handles one message from the worker. */
  receive(req: ConnectRequest): void {
    this.#lastSeen = Date.now();
    if (this.#state === "closed") return;
    if (req.finished) {
      this.#finished(req.finished);
    } else if (req.log) {
      const l = req.log;
      const a = this.#held.get(l.runId);
      if (a && a.run.attempt === l.attempt && !a.recorded) a.runLog.line(["debug", "info", "warn", "error"].includes(l.level) ? l.level : "info", l.message);
    } else if (req.progress) {
      const p = req.progress;
      const a = this.#held.get(p.runId);
      if (a && a.run.attempt === p.attempt && !a.recorded) a.runLog.progress(p.fraction, p.message);
    } else if (req.drain) {
      this.#drain();
    } else if (req.heartbeat) {
      // Answered, so the worker knows the stream is alive both ways (and reconnects when it is not).
      this.#out.send({ heartbeat: { time: new Date() } });
    } else if (req.hello) {
      this.log.warn("a second WorkerHello on one stream is ignored");
    }
  }

  /** Ends the session if its worker has been silent for longer than `limitMs`. */
  checkAlive(now: number, limitMs: number): void {
    if (this.#state !== "closed" && now - this.#lastSeen > limitMs) this.end({ silent: now - this.#lastSeen });
  }

  /** A cancel notice for a run this session executes: tell the worker, and record the cancel itself if the worker does not report in time. */
  cancel(runId: string, reason: string): void {
    const a = this.#held.get(runId);
    if (!a) {
      if (this.#claimed.has(runId)) this.#pendingCancel.set(runId, reason);
      return;
    }
    if (a.recorded) return;
    this.#out.send({ cancel: { runId, attempt: a.run.attempt, reason } });
    if (a.m) {
      clearTimeout(a.timer);
      a.timer = setTimeout(() => this.#backstop(a, { kind: "cancelled", reason }), REPORT_GRACE_MS);
    }
  }

  /** Stops pulling; runs already assigned finish. */
  #drain(): void {
    if (this.#state !== "open") return;
    this.#state = "draining";
    this.log.info({ running: this.#held.size }, "remote worker draining");
    this.#stopPulling();
  }

  #stopPulling(): void {
    for (const f of this.#fetches) void f.close().catch(() => undefined);
    this.#fetches.clear();
    for (const level of PRIORITY_LEVELS) {
      for (const { m } of this.#buffers[level].splice(0)) {
        this.#reg.heartbeats.release(m);
        m.nak();
      }
    }
    this.#buffered = 0;
    this.#notify();
  }

  /**
   * Ends the session (see EndReason for what becomes of its runs) and the
   * stream with a status saying why.
   */
  end(reason: EndReason): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#stopPulling();
    this.#holderSub?.unsubscribe();
    this.#reg.closed(this);
    const handBack = "silent" in reason || "superseded" in reason;
    for (const a of [...this.#held.values(), ...this.#zombies.values()]) {
      clearTimeout(a.timer);
      clearInterval(a.renew);
      if (this.#reg.byRun.get(a.run.id) === this) this.#reg.byRun.delete(a.run.id);
      if (a.recorded) continue;
      a.span?.setAttribute("taskwire.outcome", "lost");
      a.span?.end();
      if (!a.m) continue;
      this.#reg.heartbeats.release(a.m);
      // Handed back at once, the next claim asks this worker id's holder
      // (none now, or the new session that does not list it) and records
      // the attempt CRASHED. Otherwise the message is just no longer kept
      // alive: redelivered within 2 × the heartbeat, unless the worker
      // reconnects first and lists it (then its new session answers for it).
      if (handBack) a.m.nak();
    }
    this.#held.clear();
    this.#zombies.clear();
    this.#claimed.clear();
    if ("silent" in reason) {
      this.log.warn({ silentMs: reason.silent }, "remote worker went silent; its runs are handed back");
      this.#out.end({ code: Status.DEADLINE_EXCEEDED, details: `no message from the worker for ${reason.silent} ms (send a WorkerHeartbeat every ${this.#reg.workerIntervalMs} ms); its runs were handed back — reconnect` });
    } else if ("shutdown" in reason) {
      this.#out.end({ code: Status.UNAVAILABLE, details: "the broker is shutting down; reconnect (to any broker) and list the runs still executing in WorkerHello.running" });
    } else if ("superseded" in reason) {
      this.#out.end({ code: Status.ABORTED, details: `worker ${this.workerId} connected again on another stream; this one is closed` });
    } else if ("failed" in reason) {
      this.log.warn({ reason: reason.failed }, "remote worker session failed");
    } else {
      this.log.info({ reason: reason.closed }, "remote worker disconnected");
      this.#out.end();
    }
  }

  /** Pulls runs of one (queue, task, level) consumer while the session takes runs (see the class comment). */
  async #pull(task: RemoteTask, queue: string, level: PriorityLevel, name: string): Promise<void> {
    let consumer: Consumer | undefined;
    let pause: number = PULL_RETRY_MS[0];
    while (this.#state === "open") {
      const n = this.#want();
      if (n <= 0) {
        await this.#changed();
        continue;
      }
      let batch: ConsumerMessages | undefined;
      try {
        consumer ??= await this.#reg.nats.js.consumers.get(RUNS_STREAM, name);
        if (this.#state !== "open") break;
        batch = await consumer.fetch({ max_messages: Math.min(n, MAX_FETCH), expires: FETCH_EXPIRES_MS });
        this.#fetches.add(batch);
        for await (const m of batch) this.#arrived(m, task, level);
        pause = PULL_RETRY_MS[0];
      } catch (err) {
        if (this.#state !== "open") break;
        this.log.warn({ err, consumer: name }, "pulling runs for a remote worker failed; trying again");
        consumer = undefined;
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(pause * 2, PULL_RETRY_MS[1]);
        // The consumer may have been deleted (a NATS node's loss): ensure it again.
        await ensureTaskConsumer(this.#reg.nats, queue, task.spec.name, level, this.#reg.settings.heartbeatMs, task.concurrencyLimit, this.log).catch(() => undefined);
      } finally {
        if (batch) this.#fetches.delete(batch);
      }
    }
  }

  #arrived(m: JsMsg, task: RemoteTask, level: PriorityLevel): void {
    if (this.#state !== "open") {
      m.nak();
      return;
    }
    this.#reg.heartbeats.hold(m);
    this.#buffers[level].push({ m, task });
    this.#buffered++;
    this.#dispatch();
  }

  /** Starts claims for buffered runs while slots are free, highest priority first. */
  #dispatch(): void {
    while (this.#state === "open" && this.#buffered > 0 && this.#busy < this.#spec.concurrency) {
      const level = PRIORITY_LEVELS.find((l) => this.#buffers[l].length > 0);
      const item = level && this.#buffers[level].shift();
      if (!item) break;
      this.#buffered--;
      this.#claiming++;
      void this.#begin(item.m, item.task);
    }
    this.#notify();
  }

  /** Claims a delivered run (the lifecycle's `claim`, as the TS worker does) and assigns it to the worker. */
  async #begin(m: JsMsg, task: RemoteTask): Promise<void> {
    let assigned = false;
    let runId = "";
    try {
      const msgRun = decodeRunMessage(m.data);
      if (!msgRun) {
        this.log.error({ seq: m.seq, subject: m.subject }, "undecodable run message; terminating it");
        m.term();
        return;
      }
      runId = msgRun.id;
      if ((msgRun.namespace || "default") !== this.#namespace) {
        // Task names are shared across namespaces; this worker may execute its own namespace's runs only.
        m.nak(OTHER_NAMESPACE_NAK_MS);
        return;
      }
      const claimed = await claimRun(m, task.spec, this.#deps, msgRun);
      if (!claimed) return;
      if (this.#state === "closed") {
        // The worker left while we claimed: hand it back; the next claim records the attempt CRASHED.
        m.nak();
        return;
      }
      this.#assign(claimed, m);
      assigned = true;
    } catch (err) {
      this.log.error({ err, subject: m.subject, seq: m.seq }, "could not claim a run for a remote worker; handing the message back for a new delivery");
      m.nak(WRITE_FAILED_NAK_MS);
    } finally {
      this.#claiming--;
      this.#claimed.delete(runId);
      if (!assigned) this.#reg.heartbeats.release(m);
      this.#dispatch();
    }
  }

  #assign(claimed: Claimed, m: JsMsg): void {
    const run = claimed.stored.run;
    const ps = processSpan(m, run);
    const span = tracer.startSpan(
      ps.name,
      { kind: SpanKind.CONSUMER, attributes: { ...ps.attributes, "taskwire.worker_id": this.workerId, "taskwire.worker.remote": true } },
      ps.parent,
    );
    const a: Assignment = { run, m, slotKey: claimed.slotKey, runLog: new RunLog(this.#reg.shared.store, run.id, run.attempt, this.log, false, undefined, claimed.start ? undefined : claimed.stored), span, timer: undefined, renew: undefined, recorded: false, reported: false };
    this.#adopt(a);
    const keySlots = this.#reg.shared.keySlots;
    if (a.slotKey) a.renew = setInterval(() => void keySlots.renew(run.task, a.slotKey, run.id).catch(() => undefined), this.#reg.settings.heartbeatMs);
    const timeoutMs = run.options?.timeoutMs ?? 0;
    this.#armTimeout(a);
    const started = run.attempts.find((x) => x.number === run.attempt)?.startedAt ?? new Date();
    this.#out.send({
      assignment: {
        runId: run.id,
        task: run.task,
        attempt: run.attempt,
        args: run.args,
        timeoutMs,
        deadline: timeoutMs > 0 ? new Date(started.getTime() + timeoutMs) : undefined,
        traceParent: traceParentOf(trace.setSpan(ps.parent, span)),
        queue: run.queue,
        labels: run.options?.labels ?? {},
        namespace: run.namespace || "default",
      },
    });
    const reason = this.#pendingCancel.get(run.id);
    if (reason !== undefined) {
      this.#pendingCancel.delete(run.id);
      this.cancel(run.id, reason);
    }
  }

  /**
   * The broker's backstop for an attempt's timeout: a cancel notice, then the
   * timeout recorded, REPORT_GRACE_MS after the attempt's deadline if the
   * worker has not reported by then. Armed for an assignment and again for
   * one handed over from an earlier session of the worker.
   */
  #armTimeout(a: Assignment): void {
    const run = a.run;
    const timeoutMs = run.options?.timeoutMs ?? 0;
    if (timeoutMs <= 0 || !a.m) return;
    const started = run.attempts.find((x) => x.number === run.attempt)?.startedAt?.getTime() ?? Date.now();
    const wait = Math.max(0, started + timeoutMs + REPORT_GRACE_MS - Date.now());
    if (wait > MAX_TIMER_MS) return; // left to the worker (Node timers stop at about 24.8 days)
    clearTimeout(a.timer);
    a.timer = setTimeout(() => {
      this.#out.send({ cancel: { runId: run.id, attempt: run.attempt, reason: `attempt exceeded its timeout of ${timeoutMs} ms` } });
      this.#backstop(a, { kind: "timedOut", timeoutMs });
    }, wait);
  }

  /** The worker reports an attempt finished. */
  #finished(f: AttemptFinished): void {
    const zombie = this.#zombies.get(`${f.runId}:${f.attempt}`);
    if (zombie) {
      // Recorded by the backstop already; its slot is free now.
      this.#zombies.delete(`${f.runId}:${f.attempt}`);
      this.#dispatch();
      return;
    }
    const a = this.#held.get(f.runId);
    if (!a || a.run.attempt !== f.attempt) {
      this.log.debug({ runId: f.runId, attempt: f.attempt }, "outcome of an attempt this session does not hold; ignored");
      return;
    }
    a.reported = true;
    if (a.recorded) return; // the backstop is recording it; the slot frees when it is done
    clearTimeout(a.timer);
    a.recorded = true;
    void this.#record(a, reportedOf(f, a.run)).finally(() => this.#release(a));
  }

  /** Past the timeout or a cancel's grace without a report: records it as the TS worker would, keeping the slot until the worker reports. */
  #backstop(a: Assignment, result: Reported): void {
    if (a.recorded || this.#held.get(a.run.id) !== a) return;
    a.recorded = true;
    this.log.warn({ runId: a.run.id, attempt: a.run.attempt, result: result.kind }, "remote worker did not report in time; recording the attempt's end");
    void this.#record(a, result).finally(() => {
      // The function may still run on the worker: its slot stays taken until it reports.
      if (!a.reported && this.#state !== "closed") this.#zombies.set(`${a.run.id}:${a.run.attempt}`, a);
      this.#release(a);
    });
  }

  /** Records an attempt's end with the core helpers (lifecycle `outcome`, compare-and-set) and settles its message as the step decided. */
  async #record(a: Assignment, reported: Reported): Promise<void> {
    const run = a.run;
    const deps = this.#deps;
    try {
      await a.runLog.flush();
      const result = async (): Promise<AttemptResult> => {
        if (reported.kind !== "completed") return reported;
        const bad = jsonProblem(reported.payload);
        if (bad !== undefined) return { kind: "failed", failure: failure("ResultNotSerializable", `the worker's result is labelled application/json but is not JSON: ${bad}`) };
        return completedResult(run, { contentType: reported.payload.contentType || "application/json", data: reported.payload.data }, deps);
      };
      const out = await recordAttempt(a.m, run, result, deps, undefined, a.runLog.latest);
      const event = out.step.event;
      a.span?.setAttribute("taskwire.outcome", (event !== undefined && OUTCOME_OF[event]) || "stale");
      if (event === EventType.EVENT_TYPE_FAILED || event === EventType.EVENT_TYPE_TIMED_OUT || event === EventType.EVENT_TYPE_RETRY_SCHEDULED) {
        a.span?.setStatus({ code: SpanStatusCode.ERROR, message: out.step.write?.error?.message });
      }
      if (!a.m && out.written && isTerminal(out.step.write?.state ?? RunState.RUN_STATE_UNSPECIFIED)) this.log.debug({ runId: run.id }, "adopted run recorded; its message is acked when it comes back");
    } catch (err) {
      // Recording failed for longer than its retries (NATS lost a node and
      // has not recovered): hand the message back now, so the run is claimed
      // again from its recorded state.
      this.log.error({ err, runId: run.id }, "could not record a remote worker's outcome; handing the message back for a new delivery");
      a.m?.nak(WRITE_FAILED_NAK_MS);
    } finally {
      a.span?.end();
    }
  }

  /** The attempt is done with: its message, key slot and timers are let go; its slot frees unless it awaits its worker's report. */
  #release(a: Assignment): void {
    clearTimeout(a.timer);
    clearInterval(a.renew);
    if (a.m) this.#reg.heartbeats.release(a.m);
    if (this.#held.get(a.run.id) === a) {
      this.#held.delete(a.run.id);
      if (this.#reg.byRun.get(a.run.id) === this) this.#reg.byRun.delete(a.run.id);
    }
    if (a.slotKey) void this.#reg.shared.keySlots.release(a.run.task, a.slotKey, a.run.id).catch((err: unknown) => this.log.warn({ err, runId: a.run.id }, "could not release a key slot; its lease lapses by itself"));
    this.#dispatch();
  }
}
