import { status as Status } from "@grpc/grpc-js";
import { AckPolicy, type ConsumerMessages, DeliverPolicy, JetStreamApiError, type JsMsg } from "@nats-io/jetstream";
import { context as otContext } from "@opentelemetry/api";
import { type Automation, decodeRun, EventType, RunState, SubmitOptions, SubmitRequest, TaskRun, type TriggerEvent } from "@taskwire/protocol";
import { ALL_RECORDS_SUBJECT, AUTOMATION_QUEUE, AUTOMATION_TASKS, AUTOMATIONS_CONSUMER, DEFAULT_QUEUE, namespaceOf, type NatsHandle, RUNS_BUCKET_STREAM } from "@taskwire/core";
import type { Logger } from "pino";
import { toServiceError } from "../errors.js";
import type { QueueStat } from "../queues.js";
import type { Runs } from "../runs.js";
import { validateSubmit } from "../validate.js";
import { AUTOMATION_LABEL, eventFiringId, eventsOf, eventSummary, type Firing, runForFiring, runMatches, TRIGGER_RUN_LABEL, triggerEventName, triggerEventsOf } from "./firing.js";
import { type AutomationState, confirmFirings, decideCondition, decideEvents, type DecisionEvent, PENDING_GRACE_MS, type StateStore } from "./state.js";
import type { AutomationStore } from "./store.js";
import { actionKind, type ActionKind, conditionOf, DEFAULT_DELIVERY_RETRY } from "./validate.js";

/** Events one broker holds unacknowledged from the shared consumer. */
const MAX_IN_FLIGHT = 1_024;
/** How long an event may stay with a broker that took it before another gets it, in ms. */
const ACK_WAIT_MS = 30_000;
/** Delay before an event whose firing hit an outage is delivered again, in ms. */
const RETRY_EVENT_MS = 1_000;
/** How often queue conditions are looked at, in ms. */
const CONDITION_TICK_MS = 2_000;
/** How often states are swept for firings whose actions were never submitted, in ms. */
const SWEEP_MS = 5_000;
/** Action submits in flight at once per automation and batch. */
const SUBMIT_CONCURRENCY = 64;

/** The built-in task of each kind of action (a submit action submits its own task). */
const BUILTIN_OF: Record<Exclude<ActionKind, "submit">, string> = {
  webhook: AUTOMATION_TASKS.webhook,
  chat: AUTOMATION_TASKS.chat,
  cancelRun: AUTOMATION_TASKS.cancelRun,
  retryRun: AUTOMATION_TASKS.retryRun,
  pauseSchedule: AUTOMATION_TASKS.pauseSchedule,
};

/** The argument of a built-in action run: which action of which automation, and the firing. */
export interface ActionInput {
  automation: string;
  /** Index in the automation's actions; -1 for the running condition's check run. */
  action: number;
  firing: Firing;
}

/** Runs `fn` over `items`, at most `n` at once. */
async function pool<T, R>(items: readonly T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** A matching event, decoded. */
interface Matched {
  m: JsMsg;
  seq: number;
  t: number;
  run: TaskRun;
  matched: TriggerEvent[];
}

/**
 * Matches run events against automations and fires them, in every broker,
 * without a leader:
 *
 * - Every run event is a revision in the run records' stream; the brokers
 *   share one durable consumer of it (`taskwire-automations`), so each
 *   event is in one broker's hands at a time, and is acknowledged only
 *   after its firings are submitted (a broker that dies leaves it to
 *   another).
 * - A firing's actions are submitted as runs with the idempotency keys
 *   `<firing id>:<action index>`, the firing id being
 *   `automation:<name>:<run id>:<event cursor>`: a redelivered event, or
 *   two brokers, submit the same runs. Exactly one action run per firing.
 * - Cool-downs and thresholds are decided by compare-and-set on the
 *   automation's state: a decided firing is written there (pending) before
 *   its actions are submitted, and any broker's sweep submits a pending
 *   firing whose decider died (same idempotency keys).
 * - Queue conditions are looked at by every broker; the compare-and-set on
 *   the state lets one of them fire.
 */
export class AutomationEngine {
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #consuming = false;
  #started = false;
  readonly #timers: NodeJS.Timeout[] = [];
  #buffer: JsMsg[] = [];
  #wake: (() => void) | undefined;
  #ticking = false;
  #sweeping = false;

  constructor(
    readonly nats: NatsHandle,
    readonly runs: Runs,
    readonly store: AutomationStore,
    readonly state: StateStore,
    readonly queues: { read(): Promise<QueueStat[]> },
    readonly log: Logger,
  ) {}

  /** Starts consuming events once the consumer exists (it is made with the first automation), and the condition and sweep timers. */
  async start(): Promise<void> {
    this.#started = true;
    const exists = await this.nats.jsm.consumers.info(RUNS_BUCKET_STREAM, AUTOMATIONS_CONSUMER).then(
      () => true,
      () => false,
    );
    if (exists || this.store.cache.size > 0) await this.#consume();
    this.store.onChange(() => {
      if (this.store.cache.size > 0 && !this.#consuming && !this.#stopped) void this.#consume().catch((err: unknown) => this.log.warn({ err }, "could not start consuming run events for automations; trying again at the next change"));
    });
    this.#timers.push(setInterval(() => void this.#tick(), CONDITION_TICK_MS));
    this.#timers.push(setInterval(() => void this.#sweep(), SWEEP_MS));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#messages?.close().catch(() => undefined);
    this.#wake?.();
    await this.#loop;
  }

  /**
   * Creates the shared consumer if it is missing. Made when the first
   * automation is created (before it is stored), so events from then on
   * are all seen; until then no broker reads the stream for automations.
   */
  async ensureConsumer(): Promise<void> {
    await this.#addConsumer();
    if (this.#started && !this.#consuming && !this.#stopped) await this.#consume();
  }

  async #addConsumer(): Promise<void> {
    try {
      await this.nats.jsm.consumers.add(RUNS_BUCKET_STREAM, {
        durable_name: AUTOMATIONS_CONSUMER,
        filter_subject: ALL_RECORDS_SUBJECT,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        ack_wait: ACK_WAIT_MS * 1_000_000,
        max_deliver: -1,
        max_ack_pending: 10 * MAX_IN_FLIGHT,
      });
    } catch (err) {
      // Another broker made it first, perhaps with other settings an operator tuned: keep it.
      if (!(err instanceof JetStreamApiError)) throw err;
      await this.nats.jsm.consumers.info(RUNS_BUCKET_STREAM, AUTOMATIONS_CONSUMER);
    }
  }

  async #consume(): Promise<void> {
    if (this.#consuming) return;
    this.#consuming = true;
    try {
      await this.#addConsumer();
      this.#messages = await this.#open();
    } catch (err) {
      this.#consuming = false;
      throw err;
    }
    this.#loop = Promise.all([this.#read(), this.#process()]).then(() => undefined);
  }

  async #open(): Promise<ConsumerMessages> {
    const c = await this.nats.js.consumers.get(RUNS_BUCKET_STREAM, AUTOMATIONS_CONSUMER);
    return c.consume({ max_messages: MAX_IN_FLIGHT, expires: 5_000 });
  }

  /** Reads events into the buffer; reopens the consume loop if it ends or fails (a NATS node lost). */
  async #read(): Promise<void> {
    let pause = 250;
    while (!this.#stopped) {
      const messages = this.#messages;
      if (messages) {
        try {
          for await (const m of messages) {
            this.#buffer.push(m);
            this.#wake?.();
          }
        } catch (err) {
          if (!this.#stopped) this.log.warn({ err }, "automation event loop failed; reopening it");
        }
        if (this.#stopped) return;
        await messages.close().catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, pause));
      if (this.#stopped) return;
      try {
        await this.#addConsumer().catch(() => undefined);
        this.#messages = await this.#open();
        pause = 250;
      } catch (err) {
        this.#messages = undefined;
        pause = Math.min(pause * 2, 5_000);
        this.log.warn({ err }, "could not reopen the automation event loop; trying again");
      }
    }
  }

  /** Handles what the reader buffered, all of it at once: one state change per automation per batch, however many events. */
  async #process(): Promise<void> {
    while (!this.#stopped) {
      if (this.#buffer.length === 0) {
        await new Promise<void>((r) => (this.#wake = r));
        this.#wake = undefined;
        continue;
      }
      const batch = this.#buffer.splice(0, this.#buffer.length);
      try {
        await this.#handle(batch);
      } catch (err) {
        this.log.warn({ err, events: batch.length }, "could not handle run events for automations; they come back");
        for (const m of batch) m.nak(RETRY_EVENT_MS);
      }
    }
  }

  async #handle(batch: JsMsg[]): Promise<void> {
    if (this.store.cache.size === 0) {
      for (const m of batch) m.ack();
      return;
    }
    const groups = new Map<string, { a: Automation; events: Matched[] }>();
    for (const m of batch) {
      const op = m.headers?.get("KV-Operation");
      if (op === "DEL" || op === "PURGE" || m.data.length === 0) continue;
      let run: TaskRun;
      try {
        run = decodeRun(m.data);
      } catch {
        continue;
      }
      run.revision = m.seq;
      const kinds = triggerEventsOf(run);
      if (kinds.length === 0) continue;
      const t = m.info.timestampNanos ? Math.floor(m.info.timestampNanos / 1e6) : Date.now();
      for (const [key, a] of this.store.inNamespace(namespaceOf(run))) {
        const trig = a.trigger;
        if (a.paused || !trig || trig.queueAge) continue;
        // An automation sees the events from its creation on.
        if (t < (a.createdAt?.getTime() ?? 0)) continue;
        const wanted = eventsOf(trig);
        const matched = kinds.filter((k) => wanted.includes(k));
        if (matched.length === 0 || !runMatches(a, trig, run)) continue;
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { a, events: [] }));
        g.events.push({ m, seq: m.seq, t, run, matched });
      }
    }
    const failed = new Set<JsMsg>();
    await Promise.all(
      [...groups].map(async ([key, g]) => {
        try {
          await this.#fireGroup(key, g.a, g.events);
        } catch (err) {
          this.log.warn({ err, automation: g.a.name }, "automation could not fire (NATS failing?); its events come back");
          for (const e of g.events) failed.add(e.m);
        }
      }),
    );
    for (const m of batch) {
      if (failed.has(m)) m.nak(RETRY_EVENT_MS);
      else m.ack();
    }
  }

  /** The firing of one event. */
  #eventFiring(a: Automation, e: Matched): Firing {
    const trigger = a.trigger?.threshold ? "threshold" : "event";
    return {
      automation: a.name,
      namespace: a.namespace || "default",
      id: eventFiringId(a.name, e.run.id, e.seq),
      time: new Date(e.t).toISOString(),
      trigger,
      summary: eventSummary(e.run, e.matched),
      event: { matched: e.matched.map(triggerEventName), type: EventType[e.run.lastEvent] ?? "EVENT_TYPE_UNSPECIFIED", cursor: String(e.seq), time: new Date(e.t).toISOString() },
      run: runForFiring(e.run, (r) => TaskRun.toJSON(r)),
    };
  }

  async #fireGroup(key: string, a: Automation, events: Matched[]): Promise<void> {
    const kind = a.trigger ? conditionOf(a.trigger) : "onEvent";
    if (kind === "running") {
      // Each attempt that starts gets a check, due when it would have run too long.
      await pool(events, SUBMIT_CONCURRENCY, async (e) => this.#submitCheck(a, this.#eventFiring(a, e)));
      return;
    }
    const firings = events.map((e) => ({ seq: e.seq, t: e.t, firing: this.#eventFiring(a, e) }));
    const th = a.trigger?.threshold;
    if (kind === "onEvent" && a.cooldownMs === 0) {
      // No state to decide on: each event fires, and its idempotency keys make it once.
      const done = await pool(firings, SUBMIT_CONCURRENCY, async (f) => this.#submitFiring(a, f.firing));
      await this.#confirm(key, done);
      return;
    }
    await this.#decideAndFire(key, a, firings, th ? { count: th.count, windowMs: Number(th.windowMs) } : undefined);
  }

  /** Cool-down and threshold: the state decides with compare-and-set; the firings it wrote (pending) are submitted, then confirmed. */
  async #decideAndFire(key: string, a: Automation, events: DecisionEvent[], threshold: { count: number; windowMs: number } | undefined): Promise<void> {
    const fires = await this.state.change(key, (s) => {
      const d = decideEvents(s, events, { cooldownMs: Number(a.cooldownMs), threshold }, Date.now());
      return { next: d.next, out: d.fires };
    });
    if (fires.length === 0) return;
    const done = await pool(fires, SUBMIT_CONCURRENCY, async (p) => this.#submitFiring(a, p.firing));
    await this.#confirm(key, done);
  }

  /** Records submitted firings in the state (counts, recent firings, errors); a lost race or an outage here costs only the record. */
  async #confirm(key: string, done: Array<{ firing: Firing; actionRunIds: string[]; error?: string }>): Promise<void> {
    if (done.length === 0) return;
    try {
      await this.state.change(key, (s) => ({ next: confirmFirings(s, done, Date.now()), out: undefined }));
    } catch (err) {
      this.log.debug({ err, key }, "could not record firings in the automation's state");
    }
  }

  /**
   * Submits the actions of a firing, each as a run with the idempotency
   * key `<firing id>:<action index>`. An outage throws (the firing is
   * tried again); an action that cannot be submitted for another reason
   * (its task's options no longer valid...) is recorded as the state's
   * last error and skipped.
   */
  async #submitFiring(a: Automation, firing: Firing): Promise<{ firing: Firing; actionRunIds: string[]; error?: string }> {
    const ids: string[] = [];
    let error: string | undefined;
    for (const [i, action] of a.actions.entries()) {
      const kind = actionKind(action, `actions[${i}]`);
      const idempotencyKey = `${firing.id}:${i}`;
      const labels: Record<string, string> = { [AUTOMATION_LABEL]: a.name };
      if (firing.run?.id) labels[TRIGGER_RUN_LABEL] = firing.run.id;
      const req =
        kind === "submit"
          ? SubmitRequest.fromPartial({
              task: action.submit?.task ?? "",
              args: json([firing]),
              options: { ...action.submit?.options, idempotencyKey, labels: { ...action.submit?.options?.labels, ...labels } },
            })
          : SubmitRequest.fromPartial({
              task: BUILTIN_OF[kind],
              args: json([{ automation: a.name, action: i, firing } satisfies ActionInput]),
              options: { queue: AUTOMATION_QUEUE, idempotencyKey, retry: a.deliveryRetry ?? DEFAULT_DELIVERY_RETRY, labels },
            });
      try {
        const { run } = await this.runs.submit(validateSubmit(req, { maxPayloadBytes: this.runs.maxPayloadBytes, retentionMs: this.runs.retentionMs }), otContext.active(), a.namespace || "default");
        ids.push(run.id);
      } catch (err) {
        const se = toServiceError(err);
        if (se.code === Status.UNAVAILABLE || se.code === Status.ABORTED || se.code === Status.INTERNAL) throw err;
        error = `action ${i} (${kind}) of firing ${firing.id}: ${Status[se.code ?? Status.UNKNOWN]}: ${se.details ?? ""}`.slice(0, 1024);
        this.log.warn({ automation: a.name, action: i, err }, "automation action could not be submitted; skipped");
        ids.push("");
      }
    }
    this.log.debug({ automation: a.name, firing: firing.id, actions: ids }, "automation fired");
    return { firing, actionRunIds: ids, error };
  }

  /** The running condition: a check run, due when the attempt would have run too long. */
  async #submitCheck(a: Automation, started: Firing): Promise<void> {
    const req = SubmitRequest.fromPartial({
      task: AUTOMATION_TASKS.checkRunning,
      args: json([{ automation: a.name, action: -1, firing: started } satisfies ActionInput]),
      options: SubmitOptions.fromPartial({
        queue: AUTOMATION_QUEUE,
        idempotencyKey: `${started.id}:check`,
        delayMs: Number(a.trigger?.running?.longerThanMs ?? 0),
        retry: DEFAULT_DELIVERY_RETRY,
        labels: { [AUTOMATION_LABEL]: a.name, [TRIGGER_RUN_LABEL]: started.run?.id ?? "" },
      }),
    });
    try {
      await this.runs.submit(validateSubmit(req, { maxPayloadBytes: this.runs.maxPayloadBytes, retentionMs: this.runs.retentionMs }), otContext.active(), a.namespace || "default");
    } catch (err) {
      const se = toServiceError(err);
      if (se.code === Status.UNAVAILABLE || se.code === Status.ABORTED || se.code === Status.INTERNAL) throw err;
      this.log.warn({ automation: a.name, err }, "could not submit a running-time check; skipped");
    }
  }

  /**
   * The check run of the running condition, when due: fires if the attempt
   * that started is still running. Answers what it did, for the check
   * run's result.
   */
  async checkRunning(namespace: string, input: ActionInput): Promise<{ fired: boolean; reason: string }> {
    const key = this.keyOf(namespace, input.automation);
    const a = await this.store.read(key);
    if (!a || !a.trigger?.running) return { fired: false, reason: "the automation was deleted or no longer watches running time" };
    if (a.paused) return { fired: false, reason: "the automation is paused" };
    const runId = input.firing.run?.id ?? "";
    const attempt = Number(input.firing.run?.attempt ?? 0);
    const stored = await this.runs.store.get(runId, { leader: true });
    const run = stored?.run;
    if (!run || run.state !== RunState.RUN_STATE_RUNNING || run.attempt !== attempt) return { fired: false, reason: `attempt ${attempt} of run ${runId} is no longer running` };
    const startedAt = run.attempts.find((x) => x.number === attempt)?.startedAt ?? run.startedAt;
    const runningMs = Date.now() - (startedAt?.getTime() ?? Date.now());
    const seq = Number(input.firing.event?.cursor ?? 0);
    const firing: Firing = {
      ...input.firing,
      trigger: "running",
      time: new Date().toISOString(),
      summary: `run ${run.id} of ${run.task} has been RUNNING for ${Math.round(runningMs / 1000)} s (attempt ${attempt}, over ${Math.round(Number(a.trigger.running.longerThanMs) / 1000)} s)`,
      run: runForFiring(run, (r) => TaskRun.toJSON(r)),
      runningMs,
    };
    if (a.cooldownMs === 0) {
      await this.#confirm(key, [await this.#submitFiring(a, firing)]);
      return { fired: true, reason: firing.summary };
    }
    const before = (await this.state.read(key))?.suppressed ?? 0;
    await this.#decideAndFire(key, a, [{ seq, t: Date.now(), firing }], undefined);
    const after = (await this.state.read(key))?.suppressed ?? 0;
    return after > before ? { fired: false, reason: "within the cool-down" } : { fired: true, reason: firing.summary };
  }

  /** The key of an automation of `namespace`. */
  keyOf(namespace: string, name: string): string {
    return namespace === "default" ? name : `${namespace}.${name}`;
  }

  /** Queue conditions: each broker looks; the state's compare-and-set lets one fire. */
  async #tick(): Promise<void> {
    if (this.#ticking || this.#stopped || !this.nats.connected) return;
    const watching = [...this.store.cache].filter(([, a]) => !a.paused && a.trigger?.queueAge);
    if (watching.length === 0) return;
    this.#ticking = true;
    try {
      const stats = await this.queues.read();
      const now = Date.now();
      await Promise.all(
        watching.map(async ([key, a]) => {
          const t = a.trigger;
          const olderThan = Number(t?.queueAge?.olderThanMs ?? 0);
          const late = stats
            .filter((s) => (t?.queues.length ? t.queues.includes(s.queue) : s.queue !== AUTOMATION_QUEUE) && (!t?.tasks.length || t.tasks.includes(s.task)) && s.depth > 0 && s.oldestWaitingAgeSeconds * 1000 >= olderThan)
            .sort((x, y) => y.oldestWaitingAgeSeconds - x.oldestWaitingAgeSeconds)[0];
          const firing = (seq: number): Firing => ({
            automation: a.name,
            namespace: a.namespace || "default",
            id: `automation:${a.name}:queue:${seq}`,
            time: new Date(now).toISOString(),
            trigger: "queue_age",
            summary: late ? `queue ${late.queue} (task ${late.task}): the oldest of ${late.depth} waiting runs has waited ${Math.round(late.oldestWaitingAgeSeconds)} s (over ${Math.round(olderThan / 1000)} s)` : "",
            queue: late && { queue: late.queue || DEFAULT_QUEUE, task: late.task, depth: late.depth, oldestWaitingSeconds: Math.round(late.oldestWaitingAgeSeconds * 10) / 10 },
          });
          try {
            const fires = await this.state.change(key, (s) => {
              const d = decideCondition(s, late !== undefined, now, Number(a.cooldownMs), firing);
              return { next: d.next, out: d.fires };
            });
            if (fires.length === 0) return;
            const done = await pool(fires, SUBMIT_CONCURRENCY, async (p) => this.#submitFiring(a, p.firing));
            await this.#confirm(key, done);
          } catch (err) {
            this.log.warn({ err, automation: a.name }, "queue condition could not fire; looked at again at the next tick");
          }
        }),
      );
    } catch (err) {
      this.log.debug({ err }, "could not read queue stats for automations");
    } finally {
      this.#ticking = false;
    }
  }

  /** Submits firings that a broker decided and did not confirm (it died, or NATS failed): same idempotency keys, so never twice. */
  async #sweep(): Promise<void> {
    if (this.#sweeping || this.#stopped || !this.nats.connected || this.store.cache.size === 0) return;
    this.#sweeping = true;
    try {
      const now = Date.now();
      for (const [key, a] of this.store.cache) {
        if (a.trigger?.onEvent && a.cooldownMs === 0) continue;
        let s: AutomationState | undefined;
        try {
          s = await this.state.read(key);
        } catch {
          continue;
        }
        const stale = (s?.pending ?? []).filter((p) => p.decidedAt < now - PENDING_GRACE_MS);
        if (stale.length === 0) continue;
        try {
          const done = await pool(stale, SUBMIT_CONCURRENCY, async (p) => this.#submitFiring(a, p.firing));
          await this.#confirm(key, done);
          this.log.info({ automation: a.name, firings: stale.length }, "submitted firings another broker decided and did not confirm");
        } catch (err) {
          this.log.warn({ err, automation: a.name }, "could not submit pending firings; trying again at the next sweep");
        }
      }
    } finally {
      this.#sweeping = false;
    }
  }
}

function json(v: unknown): { contentType: string; data: Buffer } {
  return { contentType: "application/json", data: Buffer.from(JSON.stringify(v)) };
}
