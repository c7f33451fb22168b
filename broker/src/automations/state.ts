import type { KV } from "@nats-io/kv";
import type { AutomationStatus } from "@taskwire/protocol";
import { isWrongLastSequence } from "@taskwire/core";
import type { Firing } from "./firing.js";

/** Firings kept in an automation's state for GetAutomation, newest first. */
export const RECENT_FIRINGS = 20;
/** Firings decided but not yet confirmed submitted that a state keeps; beyond, the oldest is dropped (and said so in last_error). */
export const MAX_PENDING = 10;
/** A pending firing older than this (wall clock) is submitted again by any broker's sweep: its decider died or lost NATS, in ms. */
export const PENDING_GRACE_MS = 10_000;

/** A firing as the state lists it. */
export interface FiringRecord {
  /** The firing's id: action runs have the idempotency keys `<id>:<action index>`. */
  id: string;
  /** Time of the firing (its event's time), ms since epoch. */
  t: number;
  runId: string;
  task: string;
  summary: string;
  /** Action run ids in action order; "" where a submit failed. */
  actionRunIds: string[];
}

/** A firing decided (its state written) whose actions may not have been submitted yet. */
export interface PendingFiring {
  id: string;
  t: number;
  /** Wall-clock time of the decision, ms: the sweep's grace runs from here. */
  decidedAt: number;
  firing: Firing;
}

/**
 * What an automation did and is counting, in the taskwire_automation_state
 * bucket under the automation's key (JSON: internal, changed only with
 * compare-and-set). Every broker decides from it, so cool-downs and
 * thresholds hold across brokers without a leader.
 */
export interface AutomationState {
  fired: number;
  suppressed: number;
  /** Time of the last firing (its event's time), ms since epoch. */
  lastFiredAt?: number;
  recent: FiringRecord[];
  /** Threshold: the counted events in the window, as [stream sequence, time ms]. */
  window: Array<[number, number]>;
  pending: PendingFiring[];
  /** Firings decided so far: the id of a condition's firing. */
  fireSeq: number;
  /** Queue condition: whether it held at the last look. */
  active?: boolean;
  lastError?: string;
  lastErrorAt?: number;
}

export function emptyState(): AutomationState {
  return { fired: 0, suppressed: 0, recent: [], window: [], pending: [], fireSeq: 0 };
}

function clone(s: AutomationState | undefined): AutomationState {
  const b = s ?? emptyState();
  return { ...emptyState(), ...b, recent: [...(b.recent ?? [])], window: [...(b.window ?? [])], pending: [...(b.pending ?? [])] };
}

/** A run event as the decisions see it. */
export interface DecisionEvent {
  /** Stream sequence (the event's cursor). */
  seq: number;
  /** Event time, ms since epoch. */
  t: number;
  /** The firing it would be. */
  firing: Firing;
}

/** What an event-driven automation's events do with its state. */
export interface EventRule {
  cooldownMs: number;
  /** Threshold: fire when `count` events fall within `windowMs`. */
  threshold?: { count: number; windowMs: number };
}

/** Whether a firing of this id was already decided (a redelivered event). */
function known(s: AutomationState, id: string): boolean {
  return s.pending.some((p) => p.id === id) || s.recent.some((r) => r.id === id);
}

function addPending(s: AutomationState, p: PendingFiring): void {
  s.pending.push(p);
  if (s.pending.length > MAX_PENDING) {
    const dropped = s.pending.shift();
    s.lastError = `firing ${dropped?.id ?? ""} was dropped: more than ${MAX_PENDING} firings waited to be submitted (is NATS failing?)`;
    s.lastErrorAt = p.decidedAt;
  }
}

/**
 * Pure: applies a batch of matching events to the state. Each event either
 * fires (cool-down over; with a threshold, the `count`-th event within the
 * window), is suppressed by the cool-down, or is counted. A redelivered
 * event (already counted, or already fired) changes nothing. Returns the
 * next state (undefined when nothing changed) and the firings decided,
 * which are pending in that state until their actions are submitted.
 */
export function decideEvents(state: AutomationState | undefined, events: readonly DecisionEvent[], rule: EventRule, now: number): { next: AutomationState | undefined; fires: PendingFiring[] } {
  const s = clone(state);
  const fires: PendingFiring[] = [];
  let changed = false;
  const sorted = [...events].sort((a, b) => a.t - b.t || a.seq - b.seq);
  for (const e of sorted) {
    if (known(s, e.firing.id)) continue;
    const th = rule.threshold;
    if (th && s.window.some(([seq]) => seq === e.seq)) continue;
    changed = true;
    // Older events than the last firing (another broker's, out of order) are within it too.
    if (rule.cooldownMs > 0 && s.lastFiredAt !== undefined && e.t < s.lastFiredAt + rule.cooldownMs) {
      s.suppressed++;
      continue;
    }
    let firing = e.firing;
    if (th) {
      s.window.push([e.seq, e.t]);
      s.window = s.window.filter(([, t]) => t > e.t - th.windowMs && t <= e.t + th.windowMs).slice(-th.count);
      const inWindow = s.window.filter(([, t]) => t > e.t - th.windowMs).length;
      if (inWindow < th.count) continue;
      s.window = [];
      firing = { ...firing, count: inWindow };
    }
    s.fireSeq++;
    s.fired++;
    s.lastFiredAt = e.t;
    const p: PendingFiring = { id: firing.id, t: e.t, decidedAt: now, firing };
    addPending(s, p);
    fires.push(p);
  }
  return { next: changed ? s : undefined, fires };
}

/**
 * Pure: a condition (a queue's age) looked at `now`. It fires when it
 * starts to hold and, while it holds, again after each cool-down; a
 * cool-down also spaces firings of a condition that comes and goes.
 * `firing(seq)` makes the firing with that sequence number.
 */
export function decideCondition(state: AutomationState | undefined, holds: boolean, now: number, cooldownMs: number, firing: (seq: number) => Firing): { next: AutomationState | undefined; fires: PendingFiring[] } {
  const s = clone(state);
  if (!holds) {
    if (!s.active) return { next: undefined, fires: [] };
    s.active = false;
    return { next: s, fires: [] };
  }
  const cooled = s.lastFiredAt === undefined || now >= s.lastFiredAt + cooldownMs;
  if (s.active && (cooldownMs === 0 || !cooled)) return { next: undefined, fires: [] };
  if (!cooled) {
    s.active = true;
    s.suppressed++;
    return { next: s, fires: [] };
  }
  s.active = true;
  s.fireSeq++;
  s.fired++;
  s.lastFiredAt = now;
  const f = firing(s.fireSeq);
  const p: PendingFiring = { id: f.id, t: now, decidedAt: now, firing: f };
  addPending(s, p);
  return { next: s, fires: [p] };
}

/** Pure: firings whose actions were submitted leave `pending` for `recent`; a firing not pending (fired without state) is added to the counts. */
export function confirmFirings(state: AutomationState | undefined, done: ReadonlyArray<{ firing: Firing; actionRunIds: string[]; error?: string }>, now: number): AutomationState {
  const s = clone(state);
  for (const d of done) {
    const wasPending = s.pending.some((p) => p.id === d.firing.id);
    if (wasPending) s.pending = s.pending.filter((p) => p.id !== d.firing.id);
    else if (!s.recent.some((r) => r.id === d.firing.id)) {
      s.fired++;
      const t = Date.parse(d.firing.time);
      if (s.lastFiredAt === undefined || t > s.lastFiredAt) s.lastFiredAt = t;
    }
    if (!s.recent.some((r) => r.id === d.firing.id)) {
      s.recent.unshift({ id: d.firing.id, t: Date.parse(d.firing.time), runId: d.firing.run?.id ?? "", task: d.firing.run?.task ?? d.firing.queue?.task ?? "", summary: d.firing.summary, actionRunIds: d.actionRunIds });
    }
    if (d.error) {
      s.lastError = d.error;
      s.lastErrorAt = now;
    }
  }
  s.recent.sort((a, b) => b.t - a.t);
  s.recent = s.recent.slice(0, RECENT_FIRINGS);
  return s;
}

/** The state as the API answers it. */
export function statusOf(s: AutomationState | undefined): AutomationStatus {
  const st = s ?? emptyState();
  return {
    fired: st.fired,
    suppressed: st.suppressed,
    lastFiredAt: st.lastFiredAt !== undefined ? new Date(st.lastFiredAt) : undefined,
    recent: st.recent.map((r) => ({ time: new Date(r.t), id: r.id, runId: r.runId, task: r.task, summary: r.summary, actionRunIds: r.actionRunIds })),
    lastError: st.lastError ?? "",
    lastErrorAt: st.lastErrorAt !== undefined ? new Date(st.lastErrorAt) : undefined,
  };
}

/** The state store: reads, and compare-and-set changes retried on lost races. */
export class StateStore {
  constructor(readonly kv: KV) {}

  async read(key: string): Promise<AutomationState | undefined> {
    const e = await this.kv.get(key);
    if (!e || e.operation !== "PUT" || e.value.length === 0) return undefined;
    return JSON.parse(e.string()) as AutomationState;
  }

  /**
   * Applies `decide` with compare-and-set, re-deciding on a lost race, and
   * returns what the winning decision returned alongside (also when it
   * decided to write nothing). Throws ABORTED-like errors after 50 lost races.
   */
  async change<R>(key: string, decide: (s: AutomationState | undefined) => { next: AutomationState | undefined; out: R }): Promise<R> {
    for (let i = 0; i < 50; i++) {
      const e = await this.kv.get(key);
      const cur = e && e.operation === "PUT" && e.value.length > 0 ? (JSON.parse(e.string()) as AutomationState) : undefined;
      const d = decide(cur);
      if (!d.next) return d.out;
      const value = new TextEncoder().encode(JSON.stringify(d.next));
      try {
        if (e) await this.kv.update(key, value, e.revision);
        else await this.kv.create(key, value);
        return d.out;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw new Error(`automation state ${key} changed concurrently 50 times in a row; trying again later`);
  }

  async delete(key: string): Promise<void> {
    await this.kv.delete(key);
  }
}
