import { natsSettings, resolveSettings } from "./config.js";
import { type KV, Kvm } from "@nats-io/kv";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { DiscardPolicy, JetStreamApiError, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { NatsHandle } from "./connection.js";
import {
  AUTOMATION_STATE_BUCKET,
  AUTOMATIONS_BUCKET,
  CACHE_BUCKET,
  IDEMPOTENCY_BUCKET,
  INDEX_STREAM,
  INDEX_SUBJECT_PREFIX,
  LIMITS_BUCKET,
  RESULTS_STORE,
  SCHEDULES_BUCKET,
  RECORD_HISTORY,
  RUN_SUBJECT_PREFIX,
  RUNS_BUCKET,
  RUNS_STREAM,
  SCHEDULED_STREAM,
  SCHEDULED_SUBJECT_PREFIX,
  WORKERS_BUCKET,
} from "./layout.js";
import { WORKER_RECORD_MAX_AGE_MS } from "./worker-registry.js";

export interface ResourceOptions {
  /** Stream and bucket replicas; 3 in a clustered deployment. @default 1 */
  replicas?: number;
  /** How long run records, results and idempotency keys are kept, in ms. @default 604_800_000 (7 days) */
  retentionMs?: number;
  /** Where the replica check's warning goes (pino's `warn(obj, msg)`). @default a process warning on stderr */
  log?: { warn(obj: object, msg: string): void };
  /**
   * How long set-up keeps trying while JetStream cannot serve yet (a
   * cluster still forming, or electing a leader: its 503 answers, or no
   * answer at all), in ms. Other errors fail at once. @default 60_000
   */
  waitMs?: number;
}

/** JetStream API error codes (status 503) of a server or account without JetStream: not a cluster still forming. */
const JETSTREAM_NOT_ENABLED = new Set([10039, 10076]);

/** How long `ensureResources` keeps trying while JetStream is not ready, in ms (`ResourceOptions.waitMs`). */
export const RESOURCES_WAIT_MS = 60_000;
/** First and largest pause between two tries of the set-up, in ms. */
const RESOURCES_BACKOFF_MS = [250, 5_000] as const;

/**
 * JetStream API error code of "no suitable peers for placement": with the
 * reason "peer offline" a replicated stream was asked for while a node is
 * still joining the cluster (or coming back from a restart) — it places
 * once the peer is current. Other reasons (too few nodes, no storage) are
 * the cluster's configuration.
 */
const NO_PEERS_FOR_PLACEMENT = 10005;

/**
 * Whether a set-up error is JetStream not being ready rather than a wrong
 * configuration: an API error with status 503 ("JetStream system
 * temporarily unavailable" while the meta group has no leader), no peers
 * for a replicated stream because one is offline, or a request nobody
 * answered in time. "JetStream not enabled" (no responders) is a server
 * without JetStream and fails at once.
 */
export function jetStreamNotReady(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return (err.status === 503 && !JETSTREAM_NOT_ENABLED.has(err.code)) || (err.code === NO_PEERS_FOR_PLACEMENT && /offline/i.test(err.message));
  return err instanceof Error && (err.name === "TimeoutError" || /temporarily unavailable|timeout/i.test(err.message));
}

/** Every stream behind taskwire's streams, buckets and object store. */
const ALL_STREAMS = [RUNS_STREAM, SCHEDULED_STREAM, INDEX_STREAM, ...[RUNS_BUCKET, IDEMPOTENCY_BUCKET, CACHE_BUCKET, LIMITS_BUCKET, SCHEDULES_BUCKET, WORKERS_BUCKET, AUTOMATIONS_BUCKET, AUTOMATION_STATE_BUCKET].map((b) => `KV_${b}`), `OBJ_${RESULTS_STORE}`];

/**
 * Compares the replica count of every existing taskwire stream with the
 * configured one. Resources are created by whichever process starts first,
 * with its own setting, and never changed afterwards; a broker configured
 * for 3 replicas on streams some worker created with 1 would otherwise run
 * without the redundancy it was set up for, silently. Returns the streams
 * that differ (name → replicas) after warning about them.
 */
export async function checkReplicas(h: NatsHandle, replicas: number, log?: ResourceOptions["log"]): Promise<Record<string, number>> {
  const found = await Promise.all(ALL_STREAMS.map((name) => h.jsm.streams.info(name).then((i) => [name, i.config.num_replicas] as const, () => undefined)));
  const off = Object.fromEntries(found.filter((f): f is readonly [string, number] => f !== undefined && f[1] !== replicas));
  const names = Object.keys(off);
  if (names.length === 0) return off;
  const message =
    `taskwire streams have another replica count than the configured ${replicas} (TASKWIRE_REPLICAS): ` +
    `${names.map((n) => `${n}=${off[n]}`).join(", ")}. The first broker or worker to start created them with its own setting, and they are kept as they are. ` +
    `Give every broker and worker the same TASKWIRE_REPLICAS, and if the streams should have ${replicas} replicas change each one (nats stream edit <name> --replicas ${replicas}).`;
  if (log) log.warn({ configuredReplicas: replicas, streams: off }, message);
  else process.emitWarning(message, { code: "TASKWIRE_REPLICAS_MISMATCH" });
  return off;
}

/**
 * Warns when replicated streams run on nats-server older than 2.10: run
 * records stay exactly-once there (their compare-and-set writes carry a
 * message id, see `JsWire.casNeedsMsgId`), but the other compare-and-set
 * users — rate-limit windows, per-key concurrency slots, schedule and lease
 * updates, written through the nats.js KV client — can let two racing
 * writers both win, so a limit may over-admit briefly.
 */
export function warnOldServerOnCluster(h: NatsHandle, replicas: number, log?: ResourceOptions["log"]): boolean {
  if (replicas <= 1 || !h.wire.casNeedsMsgId) return false;
  const message =
    `nats-server ${h.nc.info?.version ?? "?"} with ${replicas} replicas: servers before 2.10 check compare-and-set only before replicating a write. ` +
    "Run records are protected, but rate limits and per-key concurrency limits may over-admit under races. Use nats-server 2.10 or newer for a replicated deployment.";
  if (log) log.warn({ serverVersion: h.nc.info?.version, replicas }, message);
  else process.emitWarning(message, { code: "TASKWIRE_OLD_NATS_SERVER" });
  return true;
}

export interface Resources {
  runs: KV;
  idempotency: KV;
  cache: KV;
  limits: KV;
  results: ObjectStore;
  schedules: KV;
  /** Live workers' records (worker-registry.ts). */
  workers: KV;
  /** Automations (broker/src/automations). */
  automations: KV;
  /** What each automation did and is counting. */
  automationState: KV;
}

const nanos = (ms: number): number => ms * 1_000_000;

/** The resolved settings stream creation needs. */
type StreamSettings = Required<Pick<ResourceOptions, "replicas" | "retentionMs">>;

async function ensureStream(h: NatsHandle, name: string, subjects: string[], retention: RetentionPolicy, opts: StreamSettings, extra: { allow_direct?: boolean } = {}): Promise<void> {
  const config = {
    ...extra,
    name,
    subjects,
    retention,
    storage: StorageType.File,
    num_replicas: opts.replicas,
    discard: DiscardPolicy.Old,
    // Dedupe window for Nats-Msg-Id: a retried publish of the same run within
    // it is stored once.
    duplicate_window: nanos(120_000),
    max_age: retention === RetentionPolicy.Workqueue ? 0 : nanos(opts.retentionMs),
  };
  try {
    await h.jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === 10059) {
      try {
        await h.jsm.streams.add(config);
      } catch (e) {
        // Another process created it between our info and add.
        if (!(e instanceof JetStreamApiError && e.code === 10058)) throw e;
      }
      return;
    }
    throw err;
  }
}

/**
 * Creates the streams and buckets taskwire needs if they are missing. Safe to
 * call from every broker and worker at start; existing resources are kept
 * as they are (an operator may have tuned them), but a replica count other
 * than the configured one is reported (`checkReplicas`).
 */
export function ensureResources(h: NatsHandle, options: ResourceOptions = {}): Promise<Resources> {
  return whileJetStreamNotReady(() => ensureResourcesOnce(h, options), "setting up taskwire's streams again", options);
}

/**
 * Calls `attempt` until it succeeds, calling it again while JetStream is not
 * ready (`jetStreamNotReady`: a cluster forming, electing a leader, or a
 * node still joining) for up to `options.waitMs` (default 60 s), pausing
 * 0.25 s doubling to 5 s with a warning (`doing`: what is tried again) each
 * time. Any other error, or the last one at the deadline, is thrown.
 */
export async function whileJetStreamNotReady<T>(attempt: () => Promise<T>, doing: string, options: Pick<ResourceOptions, "waitMs" | "log"> = {}): Promise<T> {
  const deadline = Date.now() + (options.waitMs ?? RESOURCES_WAIT_MS);
  for (let pause: number = RESOURCES_BACKOFF_MS[0]; ; pause = Math.min(pause * 2, RESOURCES_BACKOFF_MS[1])) {
    try {
      return await attempt();
    } catch (err) {
      if (!jetStreamNotReady(err) || Date.now() + pause > deadline) throw err;
      const warn = options.log?.warn.bind(options.log) ?? ((obj: object, msg: string) => process.emitWarning(`${msg} ${JSON.stringify(obj)}`));
      warn({ err: err instanceof Error ? err.message : String(err), retryInMs: pause }, `JetStream is not ready yet (a cluster forming, electing a leader, or a node joining); ${doing}`);
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

async function ensureResourcesOnce(h: NatsHandle, options: ResourceOptions): Promise<Resources> {
  // JetStream answers for this account (`NatsHandle.connect` does not wait for it).
  await h.jsm.getAccountInfo();
  const fromEnv = resolveSettings({ replicas: natsSettings.replicas, retentionMs: natsSettings.retentionMs }, { replicas: options.replicas, retentionMs: options.retentionMs });
  const opts: StreamSettings = { replicas: fromEnv.replicas, retentionMs: fromEnv.retentionMs };
  await ensureStream(h, RUNS_STREAM, [`${RUN_SUBJECT_PREFIX}.>`], RetentionPolicy.Workqueue, opts);
  await ensureStream(h, SCHEDULED_STREAM, [`${SCHEDULED_SUBJECT_PREFIX}.>`], RetentionPolicy.Workqueue, opts);
  // The run index (one small message per created run, kept as long as the
  // records): ListRuns reads it by sequence with direct gets, which any
  // replica answers.
  await ensureStream(h, INDEX_STREAM, [`${INDEX_SUBJECT_PREFIX}.>`], RetentionPolicy.Limits, opts, { allow_direct: true });
  const kvm = new Kvm(h.js);
  const runs = await kvm.create(RUNS_BUCKET, {
    history: RECORD_HISTORY,
    storage: StorageType.File,
    replicas: opts.replicas,
    ttl: opts.retentionMs,
    allow_direct: true,
  });
  const idempotency = await kvm.create(IDEMPOTENCY_BUCKET, {
    history: 1,
    storage: StorageType.File,
    replicas: opts.replicas,
    ttl: opts.retentionMs,
    allow_direct: true,
  });
  const cache = await kvm.create(CACHE_BUCKET, {
    history: 1,
    storage: StorageType.File,
    replicas: opts.replicas,
    ttl: opts.retentionMs,
    allow_direct: true,
  });
  const limits = await kvm.create(LIMITS_BUCKET, {
    history: 1,
    storage: StorageType.File,
    replicas: opts.replicas,
    ttl: 86_400_000,
    allow_direct: true,
  });
  const results = await new Objm(h.js).create(RESULTS_STORE, { storage: StorageType.File, replicas: opts.replicas, ttl: nanos(opts.retentionMs) });
  const schedules = await kvm.create(SCHEDULES_BUCKET, { history: 1, storage: StorageType.File, replicas: opts.replicas, allow_direct: true });
  // Memory storage would lose nothing worth keeping, but a restarted server
  // would then show no workers for up to an interval; file keeps it simple.
  const workers = await kvm.create(WORKERS_BUCKET, { history: 1, storage: StorageType.File, replicas: opts.replicas, ttl: WORKER_RECORD_MAX_AGE_MS, allow_direct: true });
  const automations = await kvm.create(AUTOMATIONS_BUCKET, { history: 1, storage: StorageType.File, replicas: opts.replicas, allow_direct: true });
  // Changed only with compare-and-set (broker/src/automations/state.ts).
  const automationState = await kvm.create(AUTOMATION_STATE_BUCKET, { history: 1, storage: StorageType.File, replicas: opts.replicas, allow_direct: true });
  await checkReplicas(h, opts.replicas, options.log);
  warnOldServerOnCluster(h, opts.replicas, options.log);
  return { runs, idempotency, cache, limits, results, schedules, workers, automations, automationState };
}

