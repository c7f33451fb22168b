import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { status as Status } from "@grpc/grpc-js";
import { BrokerError } from "./errors.js";

/**
 * Maps (task, idempotency key) to a run id for the retention period (not
 * just JetStream's 2-minute dedupe window). Whoever creates the mapping
 * first owns the id; later submits reuse it.
 */
export class IdempotencyKeys {
  constructor(readonly kv: KV) {}

  /** The run id for the key: `candidate` if this call took the key, else the id of the run that did. */
  async claim(task: string, key: string, candidate: string): Promise<{ id: string; deduplicated: boolean }> {
    const k = createHash("sha256").update(task).update("\0").update(key).digest("hex");
    try {
      await this.kv.create(k, new TextEncoder().encode(candidate));
      return { id: candidate, deduplicated: false };
    } catch {
      const e = await this.kv.get(k);
      if (!e || e.operation !== "PUT") throw new BrokerError(Status.ABORTED, "idempotency key changed concurrently; retry the call");
      return { id: e.string(), deduplicated: true };
    }
  }
}
