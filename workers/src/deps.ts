import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import type { RunStore } from "@taskwire/core";
import type { Logger } from "pino";
import type { KeySlots } from "./keylimit.js";
import type { ResolvedWorkerOptions } from "./options.js";
import type { RateLimiter } from "./ratelimit.js";

/** What executing a run needs from its worker. */
export interface ExecDeps {
  store: RunStore;
  /** The taskwire_cache bucket: completed runs with a cache key fill it. */
  cache: KV;
  /** Shared rate-limit windows. */
  rateLimiter: RateLimiter;
  /** Object Store for results above the inline limit. */
  results: ObjectStore;
  /** Per-key concurrency slots. */
  keySlots: KeySlots;
  options: ResolvedWorkerOptions;
  log: Logger;
  /** Registers the abort function of a running run (for cancel notices); returns an unregister function. */
  registerAbort(runId: string, abort: (reason: string) => void): () => void;
}
