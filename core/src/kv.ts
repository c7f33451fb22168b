import type { KV } from "@nats-io/kv";
import { isWrongLastSequence } from "./errors.js";

/**
 * Every key of a bucket, once. `kv.keys()` can yield a key twice when that
 * key is written while the listing runs (its consumer keeps delivering new
 * revisions), and run records and schedules change all the time.
 */
export async function listKeys(kv: KV): Promise<string[]> {
  const keys = new Set<string>();
  for await (const k of await kv.keys()) keys.add(k);
  return [...keys];
}

/**
 * Read-modify-write of a JSON value with compare-and-set, retried on lost
 * races. `change` gets the current value (undefined when absent) and returns
 * the next one, or undefined to leave it as it is. Resolves true when it
 * wrote.
 */
export async function updateJson<T>(kv: KV, key: string, change: (current: T | undefined) => T | undefined, attempts = 50): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    const e = await kv.get(key);
    const current = e && e.operation === "PUT" && e.value.length > 0 ? (JSON.parse(e.string()) as T) : undefined;
    const next = change(current);
    if (next === undefined) return false;
    const value = new TextEncoder().encode(JSON.stringify(next));
    try {
      if (e) await kv.update(key, value, e.revision);
      else await kv.create(key, value);
      return true;
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
  }
  return false;
}
