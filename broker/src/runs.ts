import { createHash } from "node:crypto";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import { type Context, SpanKind, trace } from "@opentelemetry/api";
import { status as Status } from "@grpc/grpc-js";
import { CacheEntry, EventType, RunState, type TaskRun } from "@taskwire/client/gen";
import {
  cacheEntryKey,
  cancelSubject,
  expirySubject,
  listKeys,
  encodeRun,
  encodeRunMessage,
  withRevision,
  wrapRunMessage,
  injectHeaders,
  isTerminal,
  type NatsHandle,
  newRunId,
  priorityLevel,
  recordSubject,
  RunStore,
  runSubject,
  scheduledSubject,
  traceParentOf,
  decodeRun,
} from "@taskwire/core";
import { BrokerError } from "./errors.js";
import type { ValidSubmit } from "./validate.js";

const tracer = trace.getTracer("@taskwire/broker");
/** Runs due within this many ms of now go straight to the queue. */
const SCHEDULE_THRESHOLD_MS = 20;
/** JetStream's dedupe window (see core resources); republishing inside it is safe. */
const DEDUPE_WINDOW_MS = 110_000;

export interface SubmitResult {
  run: TaskRun;
  deduplicated: boolean;
  /** `run` already encoded (TaskRun bytes), when Submit has them: the answer reuses them instead of encoding the run again. */
  encodedRun?: Uint8Array;
}

/**
 * The broker's operations on runs, independent of gRPC: the service maps
 * requests onto these and errors onto status codes.
 */
export class Runs {
  readonly store: RunStore;

  constructor(
    readonly nats: NatsHandle,
    runsKv: KV,
    readonly idempotency: KV,
    readonly cache: KV,
    readonly results: ObjectStore,
    readonly maxPayloadBytes: number,
  ) {
    this.store = new RunStore(runsKv, nats.wire);
  }

  ensureConnected(): void {
    if (!this.nats.connected) throw BrokerError.unavailable("disconnected");
  }

  async submit(v: ValidSubmit, ctx: Context): Promise<SubmitResult> {
    this.ensureConnected();
    let id = newRunId();
    let deduplicated = false;
    if (v.options.idempotencyKey) {
      // The key maps to a run id for the retention period (not just
      // JetStream's 2-minute dedupe window). Whoever creates the mapping
      // first owns the id; later submits reuse it.
      const key = createHash("sha256").update(v.task).update("\0").update(v.options.idempotencyKey).digest("hex");
      try {
        await this.idempotency.create(key, new TextEncoder().encode(id));
      } catch {
        const e = await this.idempotency.get(key);
        if (!e || e.operation !== "PUT") throw new BrokerError(Status.ABORTED, "idempotency key changed concurrently; retry the call");
        id = e.string();
        deduplicated = true;
      }
    }
    const now = new Date();
    // A run that waits for other runs is held by the scheduler like a delayed one.
    const delayed = v.dueAt > now.getTime() + SCHEDULE_THRESHOLD_MS || v.options.waitFor.length > 0;
    const deps = await Promise.all(v.options.waitFor.map((dep) => this.store.get(dep)));
    const missing = deps.findIndex((d) => !d);
    if (missing >= 0) throw new BrokerError(Status.NOT_FOUND, `options.wait_for[${missing}]: run ${v.options.waitFor[missing]} not found; a run can only wait for existing runs`);
    const run: TaskRun = {
      id,
      task: v.task,
      state: delayed ? RunState.RUN_STATE_SCHEDULED : RunState.RUN_STATE_PENDING,
      args: v.args,
      result: undefined,
      error: undefined,
      attempt: 0,
      options: v.options,
      createdAt: now,
      scheduledAt: new Date(Math.max(v.dueAt, now.getTime())),
      startedAt: undefined,
      finishedAt: undefined,
      updatedAt: now,
      nextAttemptAt: undefined,
      attempts: [],
      cached: false,
      cancelRequested: false,
      workerId: "",
      progress: undefined,
      queue: v.queue,
      revision: 0,
      lastEvent: EventType.EVENT_TYPE_SUBMITTED,
      traceParent: "",
      logs: [],
      resultRef: "",
    };
    const hit = deduplicated ? undefined : await this.#cacheHit(v, now);
    if (hit) {
      // A cache hit completes at once from the stored result, without a
      // worker: one record write, no message.
      Object.assign(run, { state: RunState.RUN_STATE_COMPLETED, result: hit.result, cached: true, lastEvent: EventType.EVENT_TYPE_CACHED, finishedAt: now });
      const revision = await this.store.create(run);
      if (revision === undefined) throw new BrokerError(Status.ABORTED, "run id collision; retry the call");
      run.revision = revision;
      return { run, deduplicated: false };
    }
    const subject = delayed ? scheduledSubject(id) : runSubject(v.queue, v.task, priorityLevel(v.options.priority));
    return tracer.startActiveSpan(
      `publish ${subject}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": "nats",
          "messaging.operation.type": "send",
          "messaging.operation.name": "publish",
          "messaging.destination.name": subject,
          "messaging.message.id": id,
          "taskwire.task": v.task,
          "taskwire.run_id": id,
        },
      },
      ctx,
      async (span) => {
        try {
          const spanCtx = trace.setSpan(ctx, span);
          run.traceParent = traceParentOf(spanCtx);
          if (deduplicated) {
            // Same idempotency key as an earlier submit: answer with that run.
            const existing = await this.store.get(id);
            if (existing) {
              await this.#republishIfStranded(existing.run, subject, spanCtx);
              return { run: existing.run, deduplicated: true };
            }
            // The first submitter took the key but died before writing the
            // record: finish its work under the same run id.
          }
          // The id is ours. Write the record and publish the run in
          // parallel (one round trip instead of two): both are durable
          // before we answer. If the publish wins, a worker may see the
          // message first; it creates the record from the message (the
          // message carries it), and our create then finds it there.
          // One encoding serves the record and the message.
          const encoded = encodeRun(run);
          const [created, published, expiry] = await Promise.allSettled([
            this.store.createEncoded(id, encoded),
            this.#publishEncoded(subject, wrapRunMessage(encoded), spanCtx, id),
            // With a schedule-to-start timeout, a deadline message lets the
            // scheduler expire the run on time even if no worker ever sees it.
            v.options.scheduleToStartTimeoutMs > 0 ? this.#publish(expirySubject(id), run, spanCtx, `${id}:expire`) : undefined,
          ]);
          if (published.status === "rejected" || expiry.status === "rejected") {
            // The caller gets an error, so the run must not look queued: mark
            // a record we wrote as FAILED, never run (best effort; NATS may
            // be down for both).
            if (created.status === "fulfilled" && created.value !== undefined) await this.#markNotQueued(id).catch(() => undefined);
            throw published.status === "rejected" ? published.reason : (expiry as PromiseRejectedResult).reason;
          }
          if (created.status === "rejected") throw created.reason;
          const revision = created.value;
          if (revision === undefined) {
            const current = await this.store.get(id);
            if (!current) throw new BrokerError(Status.ABORTED, "run record vanished concurrently; retry the call");
            return { run: current.run, deduplicated };
          }
          run.revision = revision;
          return { run, deduplicated, encodedRun: withRevision(encoded, revision) };
        } finally {
          span.end();
        }
      },
    );
  }

  async #markNotQueued(id: string): Promise<void> {
    const t = new Date();
    await this.store.transition(id, (run) =>
      run.state === RunState.RUN_STATE_PENDING || run.state === RunState.RUN_STATE_SCHEDULED
        ? { write: { ...run, state: RunState.RUN_STATE_FAILED, lastEvent: EventType.EVENT_TYPE_FAILED, finishedAt: t, updatedAt: t, error: { type: "SubmitFailed", message: "the run could not be queued (NATS error) and never ran; the caller got an error — submit it again", stack: "", retryable: false } } }
        : { skip: true },
    );
  }

  async #cacheHit(v: ValidSubmit, now: Date): Promise<CacheEntry | undefined> {
    const o = v.options;
    if (o.cacheTtlMs <= 0 || o.refreshCache) return undefined;
    const e = await this.cache.get(cacheEntryKey(v.task, o.cacheKey));
    if (!e || e.operation !== "PUT") return undefined;
    const entry = CacheEntry.decode(e.value);
    // The entry's own expiry was set from the TTL of the run that filled it;
    // this submit's TTL bounds its age too.
    const completed = entry.completedAt?.getTime() ?? 0;
    if ((entry.expiresAt?.getTime() ?? 0) <= now.getTime() || completed + o.cacheTtlMs <= now.getTime()) return undefined;
    return entry;
  }

  /** Queues a FAILED or CANCELLED run again as a new attempt of the same run. */
  async retry(id: string, ctx: Context): Promise<TaskRun> {
    this.ensureConnected();
    const now = new Date();
    const out = await this.store.transition(id, (run) => {
      if (run.state !== RunState.RUN_STATE_FAILED && run.state !== RunState.RUN_STATE_CANCELLED) {
        throw new BrokerError(Status.FAILED_PRECONDITION, `run ${id} is ${RunState[run.state]}; only FAILED or CANCELLED runs can be retried`);
      }
      return {
        write: { ...run, state: RunState.RUN_STATE_PENDING, cancelRequested: false, finishedAt: undefined, nextAttemptAt: undefined, lastEvent: EventType.EVENT_TYPE_RESUBMITTED, updatedAt: now },
      };
    });
    if (!out) throw new BrokerError(Status.NOT_FOUND, `run ${id} not found: it never existed or its record expired after the retention period`);
    const run = out.stored.run;
    const h = natsHeaders();
    injectHeaders(ctx, h);
    // A distinct msgID per retry, so JetStream's dedupe does not swallow it.
    await this.nats.wire.publish(runSubject(run.queue, run.task, priorityLevel(run.options?.priority ?? 0)), encodeRunMessage(run), { msgID: `${run.id}:retry:${run.attempts.length}`, headers: h });
    return run;
  }

  #publish(subject: string, run: TaskRun, ctx: Context, msgID = run.id): Promise<void> {
    return this.#publishEncoded(subject, encodeRunMessage(run), ctx, msgID);
  }

  async #publishEncoded(subject: string, message: Uint8Array, ctx: Context, msgID: string): Promise<void> {
    const h = natsHeaders();
    injectHeaders(ctx, h);
    // msgID = run id: a retried publish within the dedupe window is stored once.
    await this.nats.wire.publish(subject, message, { msgID, headers: h });
  }

  /**
   * A submitter that crashed between writing the record and publishing left
   * a PENDING record with no message. A retry with the same idempotency key
   * republishes; inside the dedupe window that is a no-op if the first
   * publish did land, so it never queues a run twice.
   */
  async #republishIfStranded(run: TaskRun, subject: string, ctx: Context): Promise<void> {
    const young = Date.now() - (run.createdAt?.getTime() ?? 0) < DEDUPE_WINDOW_MS;
    if (young && (run.state === RunState.RUN_STATE_PENDING || run.state === RunState.RUN_STATE_SCHEDULED) && run.attempt === 0) {
      await this.#publish(subject, run, ctx);
    }
  }

  async get(id: string): Promise<TaskRun> {
    this.ensureConnected();
    const s = await this.store.get(id);
    if (!s) throw new BrokerError(Status.NOT_FOUND, `run ${id} not found: it never existed or its record expired after the retention period`);
    return s.run;
  }

  /**
   * The record with a large result read back from the Object Store, so
   * callers of GetStatus (every client's result()) never see the reference.
   */
  async withResult(run: TaskRun): Promise<TaskRun> {
    if (!run.resultRef || (run.result && run.result.data.length > 0)) return run;
    const data = await this.results.getBlob(run.resultRef);
    if (!data) throw new BrokerError(Status.NOT_FOUND, `the result of run ${run.id} expired from the result store (retention period)`);
    return { ...run, result: { contentType: run.result?.contentType || "application/json", data: Buffer.from(data) } };
  }

  /** Waits until the run is terminal or `timeoutMs` passes; returns the latest record either way. */
  async waitTerminal(id: string, timeoutMs: number, signal: AbortSignal): Promise<TaskRun> {
    this.ensureConnected();
    // Subscribe before reading, so a change between the read and the
    // subscription cannot be missed.
    const sub = this.nats.nc.subscribe(recordSubject(id));
    try {
      const first = await this.get(id);
      if (isTerminal(first.state) || timeoutMs <= 0) return first;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        signal.addEventListener("abort", done, { once: true });
        void (async () => {
          for await (const m of sub) {
            if (m.data.length > 0 && isTerminal(decodeRun(m.data).state)) break;
          }
          done();
        })();
      });
    } finally {
      sub.unsubscribe();
    }
    return this.get(id);
  }

  async cancel(id: string, reason: string): Promise<TaskRun> {
    this.ensureConnected();
    const now = new Date();
    let notifyWorker = false;
    const out = await this.store.transition(id, (run) => {
      notifyWorker = false;
      switch (run.state) {
        case RunState.RUN_STATE_CANCELLED:
          return { skip: true };
        case RunState.RUN_STATE_COMPLETED:
        case RunState.RUN_STATE_FAILED:
          throw new BrokerError(Status.FAILED_PRECONDITION, `run ${id} already finished as ${RunState[run.state]}; only scheduled, pending, retrying or running runs can be cancelled`);
        case RunState.RUN_STATE_RUNNING:
          notifyWorker = true;
          if (run.cancelRequested) return { skip: true };
          return { write: { ...run, cancelRequested: true, lastEvent: EventType.EVENT_TYPE_CANCEL_REQUESTED, updatedAt: now } };
        default:
          // Not started (or between attempts): cancelled at once. Its queued
          // message is acked and skipped when a worker sees it.
          return {
            write: {
              ...run,
              state: RunState.RUN_STATE_CANCELLED,
              cancelRequested: true,
              lastEvent: EventType.EVENT_TYPE_CANCELLED,
              error: { type: "Cancelled", message: reason || "cancelled before it started", stack: "", retryable: false },
              finishedAt: now,
              updatedAt: now,
              nextAttemptAt: undefined,
            },
          };
      }
    });
    if (!out) throw new BrokerError(Status.NOT_FOUND, `run ${id} not found: it never existed or its record expired after the retention period`);
    if (notifyWorker) this.nats.nc.publish(cancelSubject(id), new TextEncoder().encode(reason));
    return out.stored.run;
  }

  /**
   * Lists runs newest first. Keys are UUIDv7, so sorting them sorts by
   * creation time; records are read only for the page (or, with filters,
   * until the page is full). Cost grows with the number of retained runs.
   */
  async list(filter: { task: string; queue: string; states: RunState[] }, pageSize: number, pageToken: string): Promise<{ runs: TaskRun[]; next: string }> {
    this.ensureConnected();
    const keys = (await listKeys(this.store.kv)).filter((k) => !pageToken || k < pageToken);
    keys.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    const states = new Set(filter.states);
    const out: TaskRun[] = [];
    let i = 0;
    const chunk = 64;
    while (i < keys.length && out.length < pageSize) {
      const batch = keys.slice(i, i + chunk);
      i += chunk;
      const recs = await Promise.all(batch.map((k) => this.store.get(k)));
      for (const r of recs) {
        if (!r) continue;
        const run = r.run;
        if (filter.task && run.task !== filter.task) continue;
        if (filter.queue && run.queue !== filter.queue) continue;
        if (states.size > 0 && !states.has(run.state)) continue;
        out.push(run);
        if (out.length === pageSize) break;
      }
    }
    const last = out.at(-1);
    const more = out.length === pageSize && last !== undefined && keys.some((k) => k < last.id);
    return { runs: out, next: more && last ? last.id : "" };
  }
}
