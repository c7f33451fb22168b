import type { KV } from "@nats-io/kv";
import { listKeys } from "./kv.js";

/**
 * Live workers: every worker writes a small JSON record about itself to the
 * `taskwire_workers` bucket (key = its id) when it starts and then every
 * `intervalMs`, and deletes it when it stops. The bucket's `max_age`
 * removes what a killed worker left; readers also drop records older than
 * three intervals. A worker in any language writes the same JSON.
 */
export interface WorkerRecord {
  /** The worker's id, as recorded on the attempts it runs. */
  id: string;
  host: string;
  pid: number;
  /** Tasks it serves. */
  tasks: string[];
  /** Queues it serves. */
  queues: string[];
  /** Runs it executes at once at most. */
  concurrency: number;
  /** Runs it executes now. */
  running: number;
  /** Ids of the runs it executes now (at most 100). */
  runIds: string[];
  /** When it wrote this record (RFC 3339). */
  lastSeen: string;
  /** When it started (RFC 3339). */
  startedAt: string;
  /** How often it rewrites this record, in ms. */
  intervalMs: number;
}

/** How long a record is kept without being rewritten: the bucket's max_age, in ms. */
export const WORKER_RECORD_MAX_AGE_MS = 30_000;

/** Longest interval between two writes of a worker's record, in ms (shorter when its heartbeat is). */
export const WORKER_RECORD_INTERVAL_MS = 5_000;

/** KV keys allow `[-/_=.a-zA-Z0-9]`; a worker id is `<host>-<pid>-<hex>`, so only odd host names change. */
export function workerKey(id: string): string {
  return id.replace(/[^-/_=.a-zA-Z0-9]/g, "_");
}

export function encodeWorkerRecord(r: WorkerRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(r));
}

/**
 * The live workers, ordered by id: records no older than three of their
 * intervals (a worker that was killed is gone within that time). Records
 * that do not parse are skipped.
 */
export async function listWorkers(kv: KV, now = Date.now()): Promise<WorkerRecord[]> {
  const keys = await listKeys(kv);
  const entries = await Promise.all(keys.map((k) => kv.get(k).catch(() => null)));
  const out: WorkerRecord[] = [];
  for (const e of entries) {
    if (!e || e.operation !== "PUT" || e.value.length === 0) continue;
    let r: WorkerRecord;
    try {
      r = JSON.parse(e.string()) as WorkerRecord;
    } catch {
      continue;
    }
    const seen = Date.parse(r.lastSeen);
    const interval = Number.isFinite(r.intervalMs) && r.intervalMs > 0 ? r.intervalMs : WORKER_RECORD_INTERVAL_MS;
    if (!Number.isFinite(seen) || now - seen > 3 * interval) continue;
    out.push(r);
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
