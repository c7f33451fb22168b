import { flag, hostPort, int, logLevel, natsSettings, resolveSettings, setting } from "@taskwire/core";

/**
 * Every broker setting: its `TASKWIRE_*` variable, schema and default (see
 * docs/configuration.md). Flags and constructor options win over the
 * environment, which wins over the defaults.
 */
export const brokerSettings = {
  /** gRPC listen address. @default "127.0.0.1:50051" (TASKWIRE_LISTEN) */
  listen: setting("TASKWIRE_LISTEN", hostPort(), "127.0.0.1:50051"),
  /** NATS server URL(s), comma separated. @default "nats://127.0.0.1:4222" (TASKWIRE_NATS_URL) */
  natsUrl: natsSettings.natsUrl,
  /** Largest accepted args payload, in bytes. @default 524_288 (512 KiB) (TASKWIRE_MAX_PAYLOAD_BYTES) */
  maxPayloadBytes: setting("TASKWIRE_MAX_PAYLOAD_BYTES", int("bytes", 1, 64 * 1024 * 1024), 524_288),
  /** Stream/bucket replicas, one value for the deployment. @default 1 (TASKWIRE_REPLICAS) */
  replicas: natsSettings.replicas,
  /** Retention of run records and idempotency keys, in ms. @default 604_800_000 (7 days) (TASKWIRE_RETENTION_MS) */
  retentionMs: natsSettings.retentionMs,
  /** How long SIGTERM waits for in-flight calls before closing them, in ms. @default 10_000 (TASKWIRE_SHUTDOWN_GRACE_MS) */
  shutdownGraceMs: setting("TASKWIRE_SHUTDOWN_GRACE_MS", int("ms", 0, 3_600_000), 10_000),
  /** Run the scheduler that releases delayed runs when due. @default true (TASKWIRE_SCHEDULER=false disables) */
  scheduler: setting("TASKWIRE_SCHEDULER", flag(), true),
  /** Log level: trace, debug, info, warn, error, fatal, silent. @default "info" (TASKWIRE_LOG_LEVEL) */
  logLevel: setting("TASKWIRE_LOG_LEVEL", logLevel(), "info"),
};

/** Broker settings, resolved. */
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
  /** Log level: trace, debug, info, warn, error, fatal, silent. @default "info" (TASKWIRE_LOG_LEVEL) */
  logLevel: string;
}

/**
 * The broker's settings: `overrides` (flags, constructor options; undefined
 * entries are ignored) over `TASKWIRE_*` variables over defaults, validated.
 * Throws a ConfigError naming every bad setting and its expected form.
 */
export function configFromEnv(overrides: Partial<BrokerConfig> = {}, env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  return resolveSettings(brokerSettings, overrides, env);
}
