import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import { type Context, SpanKind, trace } from "@opentelemetry/api";
import { status as Status } from "@grpc/grpc-js";
import {
  CacheEntry,
  cancel,
  decodeRun,
  encodeRun,
  isTerminal,
  newRun,
  retry,
  RunState,
  type Step,
  submitFailed,
  type TaskRun,
  withRevision,
  wrapRunMessage,
} from "@taskwire/protocol";
import { cacheEntryKey, IDEMPOTENCY_BUCKET, idempotencyEntryKey, isRunId, isWrongLastSequence, namespaceOf, type NatsHandle, newRunId, recordSubject, requestRunId, RunStore, traceParentOf, withSpan } from "@taskwire/core";
import { BrokerError } from "./errors.js";
import { DEFAULT_SCAN_LIMITS, IndexWriter, type ListFilter, Listing, type ScanLimits } from "./listing/index.js";
import { PeerLimits } from "./peer-limits.js";
import { effectSubject, Publisher } from "./publisher.js";
import type { ValidSubmit } from "./validate.js";

const tracer = trace.getTracer("@taskwire/broker");
/** The run a Submit is about: its id, whether an earlier Submit made it, and whether the id came from the request. */
interface RunIdOf {
  id: string;
  deduplicated: boolean;
  fromRequest: boolean;
}

/** A promise's settlement, as `Promise.allSettled` gives it for one. */
function settled<T>(p: Promise<T>): Promise<PromiseSettledResult<T>> {
  return p.then(
    (value) => ({ status: "fulfilled", value }),
    (reason: unknown) => ({ status: "rejected", reason }),
  );
}

/** JetStream's dedupe window (see core resources); republishing inside it is safe. */
const DEDUPE_WINDOW_MS = 110_000;
/**
 * How long a call waits for a dropped NATS connection to come back before
 * answering UNAVAILABLE, in ms. A client connected to a cluster reconnects
 * to another node in milliseconds; a NATS that is down still gets a fast
 * UNAVAILABLE.
 */
const RECONNECT_GRACE_MS = 500;

export interface SubmitResult {
  run: TaskRun;
  deduplicated: boolean;
  /** `run` already encoded (TaskRun bytes), when Submit has them: the answer reuses them instead of encoding the run again. */
  encodedRun?: Uint8Array;
}

/** A run the broker marked as never queued (its publish failed; the caller got an error). */
function isSubmitFailed(run: TaskRun): boolean {
  return run.state === RunState.RUN_STATE_FAILED && run.attempt === 0 && run.error?.type === "SubmitFailed";
}

function notFound(id: string): BrokerError {
  return new BrokerError(Status.NOT_FOUND, `run ${id} not found: it never existed or its record expired after the retention period`);
}

/** The namespace of calls made without one: no auth, or the broker's own (cron fires carry their schedule's). */
export const DEFAULT_NS = "default";

/**
 * `run` when it belongs to `namespace`; else NOT_FOUND with the very
 * message of an unknown run, so a caller cannot tell another namespace's
 * run from one that does not exist.
 */
export function ownRun(run: TaskRun, namespace: string): TaskRun {
  if (namespaceOf(run) !== namespace) throw notFound(run.id);
  return run;
}

/** A refused lifecycle step as the caller's error. */
function refusedError(step: Step): BrokerError | undefined {
  return step.refused && new BrokerError(Status.FAILED_PRECONDITION, step.refused.message);
}

/**
 * The broker's operations on runs, independent of gRPC: the service maps
 * requests onto these and errors onto status codes. Every change of a run
 * is a lifecycle step from @taskwire/protocol, written with compare-and-set;
 * this class only carries out the steps' effects.
 */
export class Runs {
  readonly store: RunStore;
  readonly #publisher: Publisher;
  readonly #index: IndexWriter;
  readonly #listing: Listing;

  constructor(
    readonly nats: NatsHandle,
    runsKv: KV,
    idempotency: KV,
    readonly cache: KV,
    readonly results: ObjectStore,
    readonly maxPayloadBytes: number,
    /** Retention of run records, in ms: how far ahead a run may be due. */
    readonly retentionMs = 604_800_000,
    /** Caps the waiting GetStatus calls one client connection may hold. */
    readonly waitsPerConnection = new PeerLimits("waiting GetStatus calls", 10_000, "TASKWIRE_MAX_WAITS_PER_CONNECTION"),
    /** What one ListRuns call may read, and the clock skew its order allows (TASKWIRE_LIST_SCAN_LIMIT, TASKWIRE_LIST_CLOCK_SKEW_MS). */
    listLimits: ScanLimits = DEFAULT_SCAN_LIMITS,
  ) {
    this.store = new RunStore(runsKv, nats.wire);
    this.#publisher = new Publisher(nats);
    this.#index = new IndexWriter(nats.wire);
    this.#listing = new Listing(nats, listLimits);
    void idempotency; // written and read through the wire (see #claimKey)
  }

  ensureConnected(): void {
    if (!this.nats.connected) throw BrokerError.unavailable("disconnected");
  }

  /** `ensureConnected`, after waiting up to RECONNECT_GRACE_MS for a dropped connection to come back. */
  async #connected(): Promise<void> {
    if (!(await this.nats.waitConnected(RECONNECT_GRACE_MS))) throw BrokerError.unavailable("disconnected");
  }

  /**
   * The run id of an idempotency key: `candidate` if this call took the key,
   * else the id of the run that did. The key is created with
   * compare-and-set; when it exists it is read from the bucket's stream
   * leader — a replica's copy may not have it yet, which made the call fail
   * ("changed concurrently") for as long as that replica lagged. A create
   * whose answer was lost and that finds the key on its resend finds its
   * own candidate there: not a duplicate. A NATS outage is an outage
   * (UNAVAILABLE), not a conflict.
   */
  async #claimKey(task: string, key: string, candidate: string, namespace: string): Promise<{ id: string; deduplicated: boolean }> {
    const k = idempotencyEntryKey(task, key, namespace);
    const subject = `$KV.${IDEMPOTENCY_BUCKET}.${k}`;
    try {
      await this.nats.wire.publish(subject, new TextEncoder().encode(candidate), { expectedLastSubjectSeq: 0 });
      return { id: candidate, deduplicated: false };
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
    const e = await this.nats.wire.getLastFromLeader(`KV_${IDEMPOTENCY_BUCKET}`, subject);
    const op = e?.headers?.get("KV-Operation");
    if (!e || e.data.length === 0 || (op && op !== "PUT")) throw new BrokerError(Status.ABORTED, "idempotency key changed concurrently; retry the call");
    const id = new TextDecoder().decode(e.data);
    return { id, deduplicated: id !== candidate };
  }

  /**
   * The id of the run a Submit is about, and whether an earlier Submit made
   * it: an idempotency key's run (the key's bucket decides); a request id
   * made just now, which becomes the run id (`fromRequest`: the record's
   * create decides, in `#createAndQueue`); a request id from a skewed clock
   * or of another UUID version, whose run an earlier attempt may have made
   * under that id, else kept in the key bucket; or a new id.
   */
  #runIdOf(v: ValidSubmit, namespace: string): RunIdOf | Promise<RunIdOf> {
    if (v.options.idempotencyKey) return this.#claimKey(v.task, v.options.idempotencyKey, newRunId(), namespace).then((k) => ({ ...k, fromRequest: false }));
    if (!v.requestId) return { id: newRunId(), deduplicated: false, fromRequest: false };
    const direct = requestRunId(v.requestId, Date.now());
    if (direct) return { id: direct, deduplicated: false, fromRequest: true };
    return this.#earlierRequest(v.requestId, v.task, namespace);
  }

  /** `#runIdOf` for a request id that is not a fresh run id: the run an earlier attempt made, or the one its key holds. */
  async #earlierRequest(requestId: string, task: string, namespace: string): Promise<RunIdOf> {
    if (isRunId(requestId)) {
      const earlier = await this.store.get(requestId.toLowerCase(), { leader: true });
      if (earlier) return { id: sameRequest(earlier.run, { task, requestId }, namespace).id, deduplicated: true, fromRequest: false };
    }
    return { ...(await this.#claimKey(task, `request:${requestId.toLowerCase()}`, newRunId(), namespace)), fromRequest: false };
  }

  /** Submits a run in `namespace` (the caller's): its idempotency key, cache and wait_for runs are that namespace's. */
  async submit(v: ValidSubmit, ctx: Context, namespace: string = DEFAULT_NS): Promise<SubmitResult> {
    // Each step below is awaited only when it has something to wait for
    // (most Submits: none of them), so a Submit costs few promises.
    if (!this.nats.connected) await this.#connected();
    const ids = this.#runIdOf(v, namespace);
    const { id, deduplicated, fromRequest } = ids instanceof Promise ? await ids : ids;
    if (v.options.waitFor.length > 0) await this.#checkWaitFor(v.options.waitFor, namespace);
    const now = new Date();
    const cached = deduplicated || v.options.cacheTtlMs <= 0 || v.options.refreshCache ? undefined : await this.#cacheHit(v, now, namespace);
    const step = newRun({ id, task: v.task, queue: v.queue, args: v.args, options: v.options, dueAt: v.dueAt, cached: cached?.result, namespace }, now);
    const run = step.write;
    if (!run) throw new Error("newRun decided no write");
    if (cached) {
      const [revision] = await Promise.all([this.store.create(run), this.#index.add(run)]);
      if (revision === undefined && fromRequest) {
        // An earlier attempt of this Submit (same request id) made the run.
        const earlier = await this.store.get(id, { leader: true });
        if (earlier) return { run: sameRequest(earlier.run, { task: v.task, requestId: id }, namespace), deduplicated: true };
      }
      if (revision === undefined) throw new BrokerError(Status.ABORTED, "run id collision; retry the call");
      return { run: { ...run, revision }, deduplicated: false };
    }
    const [first] = step.effects;
    const subject = (first && effectSubject(first, run)) ?? "";
    return withSpan(
      tracer,
      () => ({
        name: `publish ${subject}`,
        options: {
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
        parent: ctx,
      }),
      async (span) => {
        try {
          const spanCtx = trace.setSpan(ctx, span);
          run.traceParent = traceParentOf(spanCtx);
          if (deduplicated) {
            // Same idempotency key as an earlier submit: answer with that
            // run, read from the leader — a follower behind it (a NATS node
            // was lost) may still show a run that a failed first Submit has
            // since marked "never queued", and only the leader's copy lets
            // this retry queue it again instead of answering with a run that
            // never runs.
            const existing = await this.store.get(id, { leader: true });
            if (existing) {
              const run = await this.#republishIfStranded(existing.run, step, spanCtx);
              return { run, deduplicated: true };
            }
            // The first submitter took the key but died before writing the
            // record: finish its work under the same run id.
          }
          return await this.#createAndQueue(run, step, spanCtx, deduplicated, fromRequest);
        } finally {
          span.end();
        }
      },
      ctx,
    );
  }

  /**
   * Writes a new run's record and adds it to the run index, in parallel,
   * then publishes its message(s) carrying the record at the revision just
   * written: all are durable before we answer. A worker's first claim of
   * the message then writes RUNNING against that revision straight away,
   * without reading the record (compare-and-set still catches a record
   * that moved on meanwhile, e.g. cancelled). One encoding serves the
   * record and the message. Nothing is published when the record or the
   * index entry could not be written: the caller gets the error and retries.
   */
  async #createAndQueue(run: TaskRun, step: Step, ctx: Context, deduplicated: boolean, fromRequest = false): Promise<SubmitResult> {
    const encoded = encodeRun(run);
    const [created, indexed] = await Promise.allSettled([this.store.createEncoded(run.id, encoded), this.#index.add(run)]);
    const revision = created.status === "fulfilled" ? created.value : undefined;
    // The record as stored, with its revision: the message's and the answer's.
    const stored = revision === undefined ? encoded : withRevision(encoded, revision);
    const published = created.status === "fulfilled" && indexed.status === "fulfilled" ? await settled(this.#publisher.publish(step.effects, run, ctx, wrapRunMessage(stored))) : undefined;
    const failed = created.status === "rejected" ? created : indexed.status === "rejected" ? indexed : published?.status === "rejected" ? published : undefined;
    if (failed) {
      // The caller gets an error, so the run must not look queued: mark a
      // record we wrote as FAILED, never run (best effort; NATS may be down
      // for both). A run that ListRuns would not show is refused the same
      // way; a retry with the same request id or idempotency key queues and
      // indexes it.
      if (revision !== undefined) await this.store.transition(run.id, (r) => submitFailed(r, new Date())).catch(() => undefined);
      throw failed.reason;
    }
    if (revision === undefined) {
      const current = await this.store.get(run.id);
      if (!current) throw new BrokerError(Status.ABORTED, "run record vanished concurrently; retry the call");
      // The id came from the request and a record with another creation
      // time holds it: an earlier attempt of this Submit made the run (our
      // index write was a duplicate, dropped by JetStream).
      if (fromRequest && current.run.createdAt?.getTime() !== run.createdAt?.getTime()) {
        sameRequest(current.run, { task: run.task, requestId: run.id }, namespaceOf(run));
        return { run: await this.#republishIfStranded(current.run, step, ctx), deduplicated: true };
      }
      // Same creation time: only this call wrote it (a create resent after
      // a lost reply that was not recognised as ours). Queue it; a message
      // that is out already makes this a duplicate, stored once.
      await this.#publisher.publish(step.effects, current.run, ctx);
      return { run: current.run, deduplicated };
    }
    run.revision = revision;
    return { run, deduplicated, encodedRun: stored };
  }

  async #checkWaitFor(ids: readonly string[], namespace: string): Promise<void> {
    const found = await Promise.all(ids.map((dep) => this.store.get(dep)));
    const missing = found.findIndex((d) => !d || namespaceOf(d.run) !== namespace);
    if (missing >= 0) throw new BrokerError(Status.NOT_FOUND, `options.wait_for[${missing}]: run ${ids[missing]} not found; a run can only wait for existing runs`);
  }

  /** The cached result a Submit may answer with (called only when its options ask for a cache). */
  async #cacheHit(v: ValidSubmit, now: Date, namespace: string): Promise<CacheEntry | undefined> {
    const o = v.options;
    const e = await this.cache.get(cacheEntryKey(v.task, o.cacheKey, namespace));
    if (!e || e.operation !== "PUT") return undefined;
    const entry = CacheEntry.decode(e.value);
    // The entry's own expiry was set from the TTL of the run that filled it;
    // this submit's TTL bounds its age too.
    const completed = entry.completedAt?.getTime() ?? 0;
    if ((entry.expiresAt?.getTime() ?? 0) <= now.getTime() || completed + o.cacheTtlMs <= now.getTime()) return undefined;
    return entry;
  }

  /**
   * A submitter that crashed between writing the record and publishing left
   * a record with no message. A retry with the same idempotency key
   * republishes; inside the dedupe window that is a no-op if the first
   * publish did land, so it never queues a run twice.
   */
  async #republishIfStranded(run: TaskRun, step: Step, ctx: Context): Promise<TaskRun> {
    const young = Date.now() - (run.createdAt?.getTime() ?? 0) < DEDUPE_WINDOW_MS;
    // The first Submit may have died before its index write landed; inside
    // the dedupe window adding the run again stores nothing if it did.
    if (young) await this.#index.add(run);
    if (young && (run.state === RunState.RUN_STATE_PENDING || run.state === RunState.RUN_STATE_SCHEDULED) && run.attempt === 0) {
      await this.#publisher.publish(step.effects, run, ctx);
    }
    if (isSubmitFailed(run)) {
      // The first submit answered an error and marked the run as never
      // queued ("submit it again"): this retry with the same key queues it
      // now, as a new attempt of the same run (compare-and-set: once).
      const out = await this.store.transition(run.id, (r) => (isSubmitFailed(r) ? retry(r, new Date()) : { effects: [] }));
      if (out?.written) {
        await this.#publisher.publish(out.step.effects, out.stored.run, ctx);
        return out.stored.run;
      }
      return out?.stored.run ?? run;
    }
    return run;
  }

  /** Queues a FAILED or CANCELLED run again as a new attempt of the same run. */
  async retry(id: string, ctx: Context, namespace: string = DEFAULT_NS): Promise<TaskRun> {
    await this.#connected();
    const out = await this.store.transition(id, (run) => retry(ownRun(run, namespace), new Date()));
    if (!out) throw notFound(id);
    const refused = refusedError(out.step);
    if (refused) throw refused;
    await this.#publisher.publish(out.step.effects, out.stored.run, ctx);
    return out.stored.run;
  }

  async cancel(id: string, reason: string, ctx: Context, namespace: string = DEFAULT_NS): Promise<TaskRun> {
    await this.#connected();
    const out = await this.store.transition(id, (run) => cancel(ownRun(run, namespace), { reason }, new Date()));
    if (!out) throw notFound(id);
    const refused = refusedError(out.step);
    if (refused) throw refused;
    await this.#publisher.publish(out.step.effects, out.stored.run, ctx);
    return out.stored.run;
  }

  /** The run's record; `latest` reads the leader's copy (a replica's may be behind). */
  async get(id: string, latest = false, namespace: string = DEFAULT_NS): Promise<TaskRun> {
    await this.#connected();
    const s = await this.store.get(id, { leader: latest });
    if (!s) throw notFound(id);
    return ownRun(s.run, namespace);
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
  async waitTerminal(id: string, timeoutMs: number, signal: AbortSignal, namespace: string = DEFAULT_NS): Promise<TaskRun> {
    await this.#connected();
    // Subscribe before reading, so a change between the read and the
    // subscription cannot be missed.
    const sub = this.nats.nc.subscribe(recordSubject(id));
    try {
      let first = await this.get(id, false, namespace);
      if (isTerminal(first.state) || timeoutMs <= 0) return first;
      // A replica's copy may miss a terminal revision written before we subscribed.
      first = await this.get(id, true, namespace);
      if (isTerminal(first.state)) return first;
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
    const last = await this.get(id, false, namespace);
    return isTerminal(last.state) ? last : this.get(id, true, namespace);
  }

  /**
   * Lists runs of `namespace` newest first (by run id), from the run index
   * (listing/): a page reads about a page of index messages and records,
   * however many runs are retained; a state filter reads a bounded number
   * of records per call and answers with a token to go on.
   */
  async list(filter: ListFilter, pageSize: number, pageToken: string, namespace: string = DEFAULT_NS): Promise<{ runs: TaskRun[]; next: string }> {
    await this.#connected();
    return this.#listing.page(filter, pageSize, pageToken, namespace);
  }
}

/**
 * `run`, made by an earlier attempt of the same Submit: its request id must
 * not have been used for another task or in another namespace.
 */
function sameRequest(run: TaskRun, req: { task: string; requestId: string }, namespace: string): TaskRun {
  if (run.task !== req.task || namespaceOf(run) !== namespace) throw new BrokerError(Status.ALREADY_EXISTS, `request_id ${req.requestId} was already used for another Submit: make a new UUIDv7 for each Submit and reuse it only to retry that Submit`);
  return run;
}
