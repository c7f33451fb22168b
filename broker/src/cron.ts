import type { KV, KvWatchEntry } from "@nats-io/kv";
import { status as Status } from "@grpc/grpc-js";
import { context as otContext } from "@opentelemetry/api";
import { Schedule, SubmitRequest } from "@taskwire/protocol";
import { isWrongLastSequence, listKeys, namespaceOf } from "@taskwire/core";
import { CronExpressionParser } from "cron-parser";
import type { Logger } from "pino";
import { BrokerError, toServiceError } from "./errors.js";
import { DEFAULT_NS, type Runs } from "./runs.js";
import { validateSubmit, validateTaskName } from "./validate.js";

/** How often each broker looks for due schedules, in ms. */
const TICK_MS = 250;
/** Codes after which a fire is tried again for `fireRetryMs` (its idempotency key makes that safe); UNAVAILABLE is tried again for as long as it lasts. */
const TRANSIENT_CODES: ReadonlySet<Status> = new Set([Status.ABORTED, Status.DEADLINE_EXCEEDED, Status.INTERNAL, Status.UNKNOWN]);
/** The default of `CronSchedules.fireRetryMs`. */
const FIRE_RETRY_MS = 60_000;

/** The first cron time strictly after `after`; throws INVALID_ARGUMENT for a bad expression or zone. */
export function nextFire(cron: string, timezone: string, after: Date): Date {
  try {
    return CronExpressionParser.parse(cron, { currentDate: after, tz: timezone || "UTC" }).next().toDate();
  } catch (err) {
    throw BrokerError.invalid("schedule.cron", `"${cron}" in time zone "${timezone || "UTC"}" is not a valid cron schedule (${err instanceof Error ? err.message : String(err)}); use 5 fields "min hour dom month dow" or 6 with seconds first, and an IANA zone such as "Europe/Paris"`);
  }
}

/**
 * The KV key of a schedule: its name in namespace "default" (as before
 * namespaces existed), `<namespace>.<name>` in others. Names and
 * namespaces have no dots, so the key is unambiguous and a valid KV key.
 */
export function scheduleKey(name: string, namespace: string): string {
  return namespace === DEFAULT_NS ? name : `${namespace}.${name}`;
}

/** Whether a KV key holds a schedule of `namespace`. */
function inNamespace(key: string, namespace: string): boolean {
  return namespace === DEFAULT_NS ? !key.includes(".") : key.startsWith(`${namespace}.`);
}

/**
 * Cron schedules, stored in the taskwire_schedules KV bucket. Every broker
 * watches the bucket and fires due schedules; no leader is needed, because
 * a fire (1) submits with the idempotency key "schedule:<name>:<fire time>"
 * and only then (2) advances next_fire_at with compare-and-set. Two brokers
 * firing together submit the same run; a broker dying between (1) and (2)
 * leaves the fire due, and the next attempt resubmits the same run. Each
 * fire therefore yields exactly one run. Fires missed while no broker ran
 * collapse into one, at the next tick.
 */
export class CronSchedules {
  readonly #cache = new Map<string, Schedule>();
  #timer: NodeJS.Timeout | undefined;
  #watch: AsyncIterable<KvWatchEntry> & { stop(): void } | undefined;
  #firing = false;
  /** The fire (due time, ms) each schedule last warned about, so a retried fire logs once. */
  readonly #warnedFire = new Map<string, number>();

  constructor(
    readonly kv: KV,
    readonly runs: Runs,
    readonly log: Logger,
    /** How long a fire failing with ABORTED, DEADLINE_EXCEEDED, INTERNAL or UNKNOWN is retried before it is recorded as failed and skipped, in ms. */
    readonly fireRetryMs = FIRE_RETRY_MS,
  ) {}

  async start(): Promise<void> {
    const w = await this.kv.watch();
    this.#watch = w;
    void (async () => {
      for await (const e of w) {
        if (e.operation === "PUT" && e.value.length > 0) this.#cache.set(e.key, Schedule.decode(e.value));
        else {
          this.#cache.delete(e.key);
          this.#warnedFire.delete(e.key);
        }
      }
    })();
    this.#timer = setInterval(() => void this.#tick(), TICK_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#watch?.stop();
  }

  /** Creates or replaces a schedule of `namespace` (the caller's); its fires submit in that namespace. */
  async create(input: Schedule | undefined, namespace: string = DEFAULT_NS): Promise<Schedule> {
    this.runs.ensureConnected();
    if (!input) throw BrokerError.invalid("schedule", "is required");
    validateTaskName(input.name, "schedule.name");
    if (!input.cron.trim()) throw BrokerError.invalid("schedule.cron", 'is required, e.g. "0 9 * * 1-5"');
    if (!input.run) throw BrokerError.invalid("schedule.run", "is required: the task and args to submit at each fire");
    validateSubmit(input.run, this.runs.maxPayloadBytes, "schedule.run.");
    const now = new Date();
    const key = scheduleKey(input.name, namespace);
    const existing = await this.kv.get(key);
    const created = existing?.operation === "PUT" ? Schedule.decode(existing.value).createdAt : undefined;
    const s: Schedule = {
      ...input,
      timezone: input.timezone || "UTC",
      nextFireAt: nextFire(input.cron, input.timezone, now),
      lastFiredAt: undefined,
      lastRunId: "",
      createdAt: created ?? now,
      namespace,
    };
    await this.kv.put(key, Schedule.encode(s).finish());
    this.#cache.set(key, s);
    return s;
  }

  /** The schedules of `namespace`, by name. */
  async list(namespace: string = DEFAULT_NS): Promise<Schedule[]> {
    this.runs.ensureConnected();
    const out: Schedule[] = [];
    for (const k of await listKeys(this.kv)) {
      if (!inNamespace(k, namespace)) continue;
      const e = await this.kv.get(k);
      if (e?.operation === "PUT") out.push({ ...Schedule.decode(e.value), namespace });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async pause(name: string, paused: boolean, namespace: string = DEFAULT_NS): Promise<Schedule> {
    this.runs.ensureConnected();
    validateTaskName(name, "name");
    const key = scheduleKey(name, namespace);
    for (let i = 0; i < 20; i++) {
      const e = await this.kv.get(key);
      if (!e || e.operation !== "PUT") throw new BrokerError(Status.NOT_FOUND, `schedule ${name} not found`);
      const s = Schedule.decode(e.value);
      const next: Schedule = { ...s, paused, nextFireAt: paused ? s.nextFireAt : nextFire(s.cron, s.timezone, new Date()), namespace };
      try {
        await this.kv.update(key, Schedule.encode(next).finish(), e.revision);
        return next;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw new BrokerError(Status.ABORTED, `schedule ${name} is changing concurrently; retry`);
  }

  async delete(name: string, namespace: string = DEFAULT_NS): Promise<void> {
    this.runs.ensureConnected();
    validateTaskName(name, "name");
    const key = scheduleKey(name, namespace);
    const e = await this.kv.get(key);
    if (!e || e.operation !== "PUT") throw new BrokerError(Status.NOT_FOUND, `schedule ${name} not found`);
    await this.kv.delete(key);
    this.#cache.delete(key);
    this.#warnedFire.delete(key);
  }

  async #tick(): Promise<void> {
    if (this.#firing || !this.runs.nats.connected) return;
    this.#firing = true;
    try {
      const now = Date.now();
      for (const [key, s] of this.#cache) {
        if (s.paused || (s.nextFireAt?.getTime() ?? Infinity) > now) continue;
        // Each schedule on its own: one that cannot fire never holds up the others.
        try {
          await this.#fire(key);
        } catch (err) {
          await this.#fireFailed(key, err, s.nextFireAt?.getTime() ?? 0);
        }
      }
    } catch (err) {
      this.log.warn({ err }, "schedule tick failed; retrying at the next tick");
    } finally {
      this.#firing = false;
    }
  }

  /** Fires the schedule stored under `key` (see scheduleKey) if it is due. */
  async #fire(key: string): Promise<void> {
    const name = key;
    const e = await this.kv.get(key);
    if (!e || e.operation !== "PUT") return;
    const s = Schedule.decode(e.value);
    const due = s.nextFireAt;
    if (s.paused || !due || due.getTime() > Date.now() || !s.run) return;
    const req: SubmitRequest = SubmitRequest.fromPartial({
      ...s.run,
      options: {
        ...s.run.options,
        idempotencyKey: `schedule:${s.name}:${due.toISOString()}`,
        labels: { ...s.run.options?.labels, "taskwire.schedule": s.name },
      },
    });
    const { run } = await this.runs.submit(validateSubmit(req, this.runs.maxPayloadBytes), otContext.active(), namespaceOf(s));
    const next: Schedule = { ...s, lastFiredAt: due, lastRunId: run.id, lastError: "", lastErrorAt: undefined, nextFireAt: nextFire(s.cron, s.timezone, new Date(Math.max(Date.now(), due.getTime()))) };
    try {
      await this.kv.update(name, Schedule.encode(next).finish(), e.revision);
      this.#cache.set(name, next);
      this.log.info({ schedule: name, runId: run.id, fireAt: due.toISOString() }, "schedule fired");
    } catch (err) {
      // Another broker advanced it first (it submitted the same run).
      if (!isWrongLastSequence(err)) throw err;
    }
  }

  /**
   * A fire that failed. A transient failure leaves the fire due, to be
   * tried again at the next tick under the same idempotency key (so the
   * fire still makes exactly one run): an outage (UNAVAILABLE) for as long
   * as it lasts; a race, a timeout (ABORTED, DEADLINE_EXCEEDED — e.g. a
   * record that moved while a NATS node was lost) or an unexpected error
   * (INTERNAL, UNKNOWN) for `fireRetryMs` after the fire was due. Any other
   * error is the schedule's own (its run no longer validates, a run it
   * waits for expired...), as is a transient one that outlasts
   * `fireRetryMs`: the error is recorded on the schedule — visible in ListSchedules and
   * `taskwire schedule list` — and the fire is skipped to the next cron
   * time, so a broken schedule neither spins nor blocks the others.
   * `dueAt` is when the failed fire was due (ms since the epoch).
   */
  async #fireFailed(key: string, err: unknown, dueAt: number): Promise<void> {
    const se = toServiceError(err);
    const code = se.code ?? Status.UNKNOWN;
    if (code === Status.UNAVAILABLE || (TRANSIENT_CODES.has(code) && Date.now() - dueAt < this.fireRetryMs)) {
      // One warning per fire, not one per tick.
      if (this.#warnedFire.get(key) !== dueAt) {
        this.#warnedFire.set(key, dueAt);
        this.log.warn({ err, schedule: key, fireAt: new Date(dueAt).toISOString() }, `schedule could not fire (${Status[code] ?? code}); trying again at each tick`);
      }
      return;
    }
    const message = `${Status[se.code ?? Status.UNKNOWN] ?? se.code}: ${se.details ?? String(err)}`.slice(0, 1024);
    this.log.warn({ err, schedule: key }, "schedule could not fire; recorded on the schedule, skipped to its next time");
    try {
      const e = await this.kv.get(key);
      if (!e || e.operation !== "PUT") return;
      const s = Schedule.decode(e.value);
      const now = new Date();
      const next: Schedule = { ...s, lastError: message, lastErrorAt: now, nextFireAt: nextFire(s.cron, s.timezone, now) };
      await this.kv.update(key, Schedule.encode(next).finish(), e.revision);
      this.#cache.set(key, next);
    } catch (inner) {
      // Lost a race with another broker (it recorded the same), or NATS
      // failed: the fire stays due and is looked at again next tick.
      this.log.debug({ err: inner, schedule: key }, "could not record a schedule's failed fire");
    }
  }
}
