import { natsSettings, resolveSettings } from "./config.js";
import { type KV, Kvm } from "@nats-io/kv";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { DiscardPolicy, JetStreamApiError, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { NatsHandle } from "./connection.js";
import {
  CACHE_BUCKET,
  IDEMPOTENCY_BUCKET,
  LIMITS_BUCKET,
  RESULTS_STORE,
  SCHEDULES_BUCKET,
  RECORD_HISTORY,
  RUN_SUBJECT_PREFIX,
  RUNS_BUCKET,
  RUNS_STREAM,
  SCHEDULED_STREAM,
  SCHEDULED_SUBJECT_PREFIX,
} from "./layout.js";

export interface ResourceOptions {
  /** Stream and bucket replicas; 3 in a clustered deployment. @default 1 */
  replicas?: number;
  /** How long run records, results and idempotency keys are kept, in ms. @default 604_800_000 (7 days) */
  retentionMs?: number;
}

export interface Resources {
  runs: KV;
  idempotency: KV;
  cache: KV;
  limits: KV;
  results: ObjectStore;
  schedules: KV;
}

const nanos = (ms: number): number => ms * 1_000_000;

async function ensureStream(h: NatsHandle, name: string, subjects: string[], retention: RetentionPolicy, opts: Required<ResourceOptions>): Promise<void> {
  const config = {
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
 * as they are (an operator may have tuned them).
 */
export async function ensureResources(h: NatsHandle, options: ResourceOptions = {}): Promise<Resources> {
  const fromEnv = resolveSettings({ replicas: natsSettings.replicas, retentionMs: natsSettings.retentionMs }, options);
  const opts: Required<ResourceOptions> = { replicas: fromEnv.replicas, retentionMs: fromEnv.retentionMs };
  await ensureStream(h, RUNS_STREAM, [`${RUN_SUBJECT_PREFIX}.>`], RetentionPolicy.Workqueue, opts);
  await ensureStream(h, SCHEDULED_STREAM, [`${SCHEDULED_SUBJECT_PREFIX}.>`], RetentionPolicy.Workqueue, opts);
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
  return { runs, idempotency, cache, limits, results, schedules };
}

