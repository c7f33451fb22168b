import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { isWrongLastSequence } from "@taskwire/core";

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
    const key = RateLimiter.key(task, rl.perKey ? limitKey : "");
    for (let i = 0; i < 50; i++) {
      const now = Date.now();
      const e = await this.kv.get(key);
      const starts: number[] = e && e.operation === "PUT" && e.value.length > 0 ? (JSON.parse(e.string()) as number[]) : [];
      const recent = starts.filter((t) => t > now - rl.intervalMs);
      if (recent.length >= rl.limit) {
        const oldest = Math.min(...recent);
        return { waitMs: Math.max(1, oldest + rl.intervalMs - now) };
      }
      recent.push(now);
      const value = new TextEncoder().encode(JSON.stringify(recent.slice(-rl.limit)));
      try {
        if (e) await this.kv.update(key, value, e.revision);
        else await this.kv.create(key, value);
        return { grantedAt: now };
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        // Another worker took a place first: look again.
      }
    }
    return { waitMs: 50 };
  }
}
