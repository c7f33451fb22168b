/** Broker settings. Every field has a flag and a TASKWIRE_* variable (see docs/configuration.md). */
export interface BrokerConfig {
  /** gRPC listen address. @default "127.0.0.1:50051" (TASKWIRE_LISTEN) */
  listen: string;
  /** NATS server URL(s), comma separated. @default "nats://127.0.0.1:4222" (TASKWIRE_NATS_URL) */
  natsUrl: string;
  /** Largest accepted args payload, in bytes. @default 524_288 (512 KiB) (TASKWIRE_MAX_PAYLOAD_BYTES) */
  maxPayloadBytes: number;
  /** Stream/bucket replicas when the broker creates them. @default 1 (TASKWIRE_REPLICAS) */
  replicas: number;
  /** Retention of run records and idempotency keys, in ms. @default 604_800_000 (7 days) (TASKWIRE_RETENTION_MS) */
  retentionMs: number;
  /** How long SIGTERM waits for in-flight calls before closing them, in ms. @default 10_000 (TASKWIRE_SHUTDOWN_GRACE_MS) */
  shutdownGraceMs: number;
  /** Run the scheduler that releases delayed runs when due. @default true (TASKWIRE_SCHEDULER=false disables) */
  scheduler: boolean;
  /** Log level: trace, debug, info, warn, error, silent. @default "info" (TASKWIRE_LOG_LEVEL) */
  logLevel: string;
}

function num(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative number`);
  return n;
}

export function configFromEnv(overrides: Partial<BrokerConfig> = {}): BrokerConfig {
  return {
    listen: process.env.TASKWIRE_LISTEN || "127.0.0.1:50051",
    natsUrl: process.env.TASKWIRE_NATS_URL || "nats://127.0.0.1:4222",
    maxPayloadBytes: num("TASKWIRE_MAX_PAYLOAD_BYTES", 524_288),
    replicas: num("TASKWIRE_REPLICAS", 1),
    retentionMs: num("TASKWIRE_RETENTION_MS", 604_800_000),
    shutdownGraceMs: num("TASKWIRE_SHUTDOWN_GRACE_MS", 10_000),
    scheduler: process.env.TASKWIRE_SCHEDULER !== "false",
    logLevel: process.env.TASKWIRE_LOG_LEVEL || "info",
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  };
}
