import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { updateJson } from "../kv.js";

interface Lease {
  run: string;
  /** Lease end, ms since the epoch; renewed by the holder's heartbeat. */
  until: number;
}

/**
 * Per-key concurrency slots shared by every worker: "at most N runs of this
 * task at once per concurrency key" (e.g. per customer). The KV value holds
 * the leases of the runs executing under the key; a run takes a slot with
 * compare-and-set, renews its lease with the worker's heartbeat, and gives it
 * back when it ends. A worker that dies stops renewing, so its slots free up
 * when the leases lapse (2 × the heartbeat interval) — the same moment its
 * runs are redelivered.
 */
export class KeySlots {
  constructor(
    readonly kv: KV,
    readonly leaseMs: number,
  ) {}

  static key(task: string, concurrencyKey: string): string {
    return `conc.${createHash("sha256").update(task).update("\0").update(concurrencyKey).digest("hex").slice(0, 40)}`;
  }

  /** Applies `change` to the live (unexpired) leases of the key. */
  #update(task: string, concurrencyKey: string, change: (live: Lease[], now: number) => Lease[] | undefined): Promise<boolean> {
    return updateJson<Lease[]>(this.kv, KeySlots.key(task, concurrencyKey), (current) => {
      const now = Date.now();
      return change((current ?? []).filter((l) => l.until > now), now);
    });
  }

  /** Takes a slot for `runId`; false when `limit` runs already hold one. */
  acquire(task: string, concurrencyKey: string, runId: string, limit: number): Promise<boolean> {
    return this.#update(task, concurrencyKey, (leases, now) => {
      const others = leases.filter((l) => l.run !== runId);
      if (others.length >= limit) return undefined;
      return [...others, { run: runId, until: now + this.leaseMs }];
    });
  }

  /** Extends the lease of `runId` (called with the worker's heartbeat). */
  async renew(task: string, concurrencyKey: string, runId: string): Promise<void> {
    await this.#update(task, concurrencyKey, (leases, now) => leases.map((l) => (l.run === runId ? { ...l, until: now + this.leaseMs } : l)));
  }

  async release(task: string, concurrencyKey: string, runId: string): Promise<void> {
    await this.#update(task, concurrencyKey, (leases) => leases.filter((l) => l.run !== runId));
  }
}
