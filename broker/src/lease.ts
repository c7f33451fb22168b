import type { KV } from "@nats-io/kv";
import { isWrongLastSequence } from "@taskwire/core";
import type { Logger } from "pino";

interface LeaseValue {
  holder: string;
  /** Epoch ms after which anyone may take it. */
  expiresAt: number;
}

/**
 * A lease in a KV bucket, held by at most one process at a time: taken
 * with compare-and-set (create when absent, update against the revision
 * read when expired or already ours), renewed every third of its TTL, and
 * handed back on stop. Used so that only one of several brokers exports
 * the queue gauges (every broker reads the same JetStream numbers; summing
 * the series of N brokers would count each queue N times).
 *
 * A holder that cannot renew (NATS down) stops counting itself the holder
 * when its own lease time runs out, so two holders overlap at most by the
 * clock skew between hosts.
 */
export class Lease {
  #heldUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;
  #revision = 0;

  constructor(
    readonly kv: KV,
    readonly key: string,
    readonly holder: string,
    readonly log: Logger,
    readonly ttlMs = 15_000,
  ) {}

  /** True while this process holds the lease. */
  get held(): boolean {
    return Date.now() < this.#heldUntil;
  }

  /** Tries to take the lease now, then keeps trying / renewing every ttl/3. */
  async start(): Promise<void> {
    await this.#try();
    this.#timer = setInterval(() => void this.#try(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.#timer.unref();
  }

  #try(): Promise<void> {
    this.#tick ??= this.#attempt().finally(() => (this.#tick = undefined));
    return this.#tick;
  }

  async #attempt(): Promise<void> {
    const now = Date.now();
    const value = new TextEncoder().encode(JSON.stringify({ holder: this.holder, expiresAt: now + this.ttlMs } satisfies LeaseValue));
    try {
      const e = await this.kv.get(this.key);
      let cur: LeaseValue | undefined;
      if (e && e.operation === "PUT" && e.value.length > 0) {
        try {
          cur = JSON.parse(e.string()) as LeaseValue;
        } catch {
          cur = undefined;
        }
      }
      if (e && cur && cur.holder !== this.holder && cur.expiresAt > now) {
        this.#heldUntil = 0;
        return;
      }
      const was = this.held;
      this.#revision = e ? await this.kv.update(this.key, value, e.revision) : await this.kv.create(this.key, value);
      this.#heldUntil = now + this.ttlMs;
      if (!was) this.log.debug({ lease: this.key }, "took the lease");
    } catch (err) {
      // Lost a race (another process took it) or NATS failed: not ours
      // unless a renewal went through before our own lease time ran out.
      if (!isWrongLastSequence(err)) this.log.debug({ err, lease: this.key }, "could not take or renew the lease");
      else this.#heldUntil = 0;
    }
  }

  /** Stops renewing and hands the lease back, so another process takes it at once. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#tick;
    if (!this.held) return;
    this.#heldUntil = 0;
    try {
      await this.kv.update(this.key, new TextEncoder().encode(JSON.stringify({ holder: this.holder, expiresAt: 0 } satisfies LeaseValue)), this.#revision);
    } catch {
      // Taken meanwhile, or NATS is down: it expires by itself.
    }
  }
}
