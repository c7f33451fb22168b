import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { updateJson } from "../kv.js";

export interface RateLimit {
  limit: number;
  intervalMs: number;
  perKey?: boolean;
}

/** A granted start (with the time recorded in the window) or how long to wait, in ms. */
export type RateDecision = { grantedAt: number } | { waitMs: number };

/**
 * A strict sliding-window limit shared by every worker: the KV value holds
 * the start times of the last `limit` starts; a start is granted only if the
 * oldest of them is older than the interval, and recorded with
 * compare-and-set so two workers cannot both take the last place. So in any
 * window of `intervalMs`, at most `limit` runs start.
 */
export class RateLimiter {
  constructor(readonly kv: KV) {}

  static key(task: string, limitKey: string): string {
    return `rate.${createHash("sha256").update(task).update("\0").update(limitKey).digest("hex").slice(0, 40)}`;
  }

  async acquire(task: string, limitKey: string, rl: RateLimit): Promise<RateDecision> {
    let decision: RateDecision = { waitMs: 50 };
    const wrote = await updateJson<number[]>(this.kv, RateLimiter.key(task, rl.perKey ? limitKey : ""), (starts) => {
      const now = Date.now();
      const recent = (starts ?? []).filter((t) => t > now - rl.intervalMs);
      if (recent.length >= rl.limit) {
        decision = { waitMs: Math.max(1, Math.min(...recent) + rl.intervalMs - now) };
        return undefined;
      }
      decision = { grantedAt: now };
      return [...recent, now].slice(-rl.limit);
    });
    // A grant counts only if it was written; after too many lost races, ask again later.
    return "grantedAt" in decision && !wrote ? { waitMs: 50 } : decision;
  }
}
