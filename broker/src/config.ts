import { flag, hostPort, int, listenOrOff, logLevel, natsSettings, resolveSettings, setting, text } from "@taskwire/core";

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
  /** Open StreamEvents calls one client connection may hold. @default 1_000 (TASKWIRE_MAX_STREAMS_PER_CONNECTION) */
  maxStreamsPerConnection: setting("TASKWIRE_MAX_STREAMS_PER_CONNECTION", int("streams", 1, 1_000_000), 1_000),
  /** GetStatus calls waiting for a run to end that one client connection may hold. @default 10_000 (TASKWIRE_MAX_WAITS_PER_CONNECTION) */
  maxWaitsPerConnection: setting("TASKWIRE_MAX_WAITS_PER_CONNECTION", int("calls", 1, 1_000_000), 10_000),
  /** Reads one ListRuns call may spend on the run index and on records it does not list (a state filter); then it answers with what it found and a page token to go on. @default 2_000 (TASKWIRE_LIST_SCAN_LIMIT) */
  listScanLimit: setting("TASKWIRE_LIST_SCAN_LIMIT", int("reads", 100, 1_000_000), 2_000),
  /** How far a broker's clock may run ahead of nats-server's, in ms, beyond what ListRuns sees in the runs it reads, for exact id order across pages (beyond it a run may come a little out of order, never twice). @default 0 (TASKWIRE_LIST_CLOCK_SKEW_MS) */
  listClockSkewMs: setting("TASKWIRE_LIST_CLOCK_SKEW_MS", int("ms", 0, 60_000), 0),
  /** TLS certificate (PEM, chain allowed); with tlsKey, the broker serves TLS. Re-read when it changes. @default none (TASKWIRE_TLS_CERT) */
  tlsCert: setting("TASKWIRE_TLS_CERT", text("a PEM certificate file path"), undefined as string | undefined),
  /** TLS private key (PEM) of tlsCert. @default none (TASKWIRE_TLS_KEY) */
  tlsKey: setting("TASKWIRE_TLS_KEY", text("a PEM private key file path"), undefined as string | undefined),
  /** CA bundle (PEM) for mTLS: clients must present a certificate it signed. @default none: no client certificates (TASKWIRE_TLS_CLIENT_CA) */
  tlsClientCa: setting("TASKWIRE_TLS_CLIENT_CA", text("a PEM CA bundle file path"), undefined as string | undefined),
  /** JWKS file that JWT bearer tokens are verified against. @default none (TASKWIRE_AUTH_JWKS_FILE) */
  authJwksFile: setting("TASKWIRE_AUTH_JWKS_FILE", text("a JWKS file path"), undefined as string | undefined),
  /** JWKS URL that JWT bearer tokens are verified against. @default none (TASKWIRE_AUTH_JWKS_URL) */
  authJwksUrl: setting("TASKWIRE_AUTH_JWKS_URL", text("a URL"), undefined as string | undefined),
  /** Shared secret (≥ 32 bytes) that HS256 JWTs are verified with. @default none (TASKWIRE_AUTH_JWT_SECRET) */
  authJwtSecret: setting("TASKWIRE_AUTH_JWT_SECRET", text("a secret"), undefined as string | undefined),
  /** Required JWT `iss`. @default any (TASKWIRE_AUTH_ISSUER) */
  authIssuer: setting("TASKWIRE_AUTH_ISSUER", text("an issuer"), undefined as string | undefined),
  /** Required JWT `aud`. @default any (TASKWIRE_AUTH_AUDIENCE) */
  authAudience: setting("TASKWIRE_AUTH_AUDIENCE", text("an audience"), undefined as string | undefined),
  /** The JWT claim that holds the caller's namespace. @default "taskwire_ns" (TASKWIRE_AUTH_NAMESPACE_CLAIM) */
  authNamespaceClaim: setting("TASKWIRE_AUTH_NAMESPACE_CLAIM", text("a claim name"), "taskwire_ns"),
  /** Static API tokens file (YAML or JSON: token → {name, namespace, scopes}). @default none (TASKWIRE_AUTH_TOKENS_FILE) */
  authTokensFile: setting("TASKWIRE_AUTH_TOKENS_FILE", text("a file path"), undefined as string | undefined),
  /** Serve gRPC server reflection (open to every caller, like health). @default true (TASKWIRE_REFLECTION) */
  reflection: setting("TASKWIRE_REFLECTION", flag(), true),
  /** Allow serving a non-loopback address without TLS or without auth. @default false (TASKWIRE_INSECURE) */
  insecure: setting("TASKWIRE_INSECURE", flag(), false),
  /** HTTP listen address of /metrics, /healthz, /readyz, the JSON API and the UI; "" or "off": none. @default "127.0.0.1:8050" (TASKWIRE_HTTP_LISTEN) */
  http: setting("TASKWIRE_HTTP_LISTEN", listenOrOff(), "127.0.0.1:8050", { emptyIsValue: true }),
  /** The UI's link to a run's trace: a URL with `{traceId}`, e.g. a Jaeger UI's `http://jaeger:16686/trace/{traceId}`; "": no links. @default "" (TASKWIRE_UI_TRACE_URL) */
  uiTraceUrl: setting("TASKWIRE_UI_TRACE_URL", text("a URL with {traceId}"), ""),
  /** Directory of the built web UI. @default the broker package's ui-dist/ (TASKWIRE_UI_DIR) */
  uiDir: setting("TASKWIRE_UI_DIR", text("a directory"), undefined as string | undefined),
  /** Heartbeat interval of runs the broker holds for remote workers (WorkerService), in ms; their task consumers' ack_wait is twice it. Same variable as the TS worker's. @default 5_000 (TASKWIRE_HEARTBEAT_MS) */
  workerHeartbeatMs: setting("TASKWIRE_HEARTBEAT_MS", int("ms", 100, 300_000), 5_000),
  /** Largest result a remote worker may report, in bytes; larger fails the run (ResultTooLarge). @default 3_145_728 (3 MiB) (TASKWIRE_MAX_RESULT_BYTES) */
  workerMaxResultBytes: setting("TASKWIRE_MAX_RESULT_BYTES", int("bytes", 1, 64 * 1024 * 1024), 3_145_728),
  /** Remote workers' results above this go to the Object Store, in bytes. @default 65_536 (TASKWIRE_INLINE_RESULT_BYTES) */
  workerInlineResultBytes: setting("TASKWIRE_INLINE_RESULT_BYTES", int("bytes", 0, 1024 * 1024), 65_536),
  /** Crashed attempts of a remote worker's run retried beyond its retry policy. @default 10 (TASKWIRE_MAX_CRASH_RETRIES) */
  workerMaxCrashRetries: setting("TASKWIRE_MAX_CRASH_RETRIES", int("attempts", 0, 1_000), 10),
  /** Match run events against automations and execute their action runs (queue taskwire-automations) in this broker. @default true (TASKWIRE_AUTOMATIONS=false disables) */
  automations: setting("TASKWIRE_AUTOMATIONS", flag(), true),
  /** What automation webhooks may reach beyond public addresses: CIDRs, addresses and host names, comma separated (loopback, link-local and private ranges are refused unless listed). @default "" (TASKWIRE_AUTOMATION_ALLOW) */
  automationAllow: setting("TASKWIRE_AUTOMATION_ALLOW", text("CIDRs, addresses and host names, comma separated"), ""),
  /** Action runs of each built-in automation task this broker executes at once. @default 16 (TASKWIRE_AUTOMATION_CONCURRENCY) */
  automationConcurrency: setting("TASKWIRE_AUTOMATION_CONCURRENCY", int("runs", 1, 1_000), 16),
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
  /** Open StreamEvents calls one client connection may hold. @default 1_000 (TASKWIRE_MAX_STREAMS_PER_CONNECTION) */
  maxStreamsPerConnection: number;
  /** GetStatus calls waiting for a run to end that one client connection may hold. @default 10_000 (TASKWIRE_MAX_WAITS_PER_CONNECTION) */
  maxWaitsPerConnection: number;
  /** Reads one ListRuns call may spend on the run index and on records it does not list. @default 2_000 (TASKWIRE_LIST_SCAN_LIMIT) */
  listScanLimit: number;
  /** How far a broker's clock may run ahead of nats-server's, in ms, beyond what ListRuns sees, for its exact order. @default 0 (TASKWIRE_LIST_CLOCK_SKEW_MS) */
  listClockSkewMs: number;
  /** TLS certificate (PEM, chain allowed); with tlsKey, the broker serves TLS. Re-read when it changes. @default none (TASKWIRE_TLS_CERT) */
  tlsCert: string | undefined;
  /** TLS private key (PEM) of tlsCert. @default none (TASKWIRE_TLS_KEY) */
  tlsKey: string | undefined;
  /** CA bundle (PEM) for mTLS: clients must present a certificate it signed. @default none (TASKWIRE_TLS_CLIENT_CA) */
  tlsClientCa: string | undefined;
  /** JWKS file that JWT bearer tokens are verified against. @default none (TASKWIRE_AUTH_JWKS_FILE) */
  authJwksFile: string | undefined;
  /** JWKS URL that JWT bearer tokens are verified against. @default none (TASKWIRE_AUTH_JWKS_URL) */
  authJwksUrl: string | undefined;
  /** Shared secret (≥ 32 bytes) that HS256 JWTs are verified with. @default none (TASKWIRE_AUTH_JWT_SECRET) */
  authJwtSecret: string | undefined;
  /** Required JWT `iss`. @default any (TASKWIRE_AUTH_ISSUER) */
  authIssuer: string | undefined;
  /** Required JWT `aud`. @default any (TASKWIRE_AUTH_AUDIENCE) */
  authAudience: string | undefined;
  /** The JWT claim that holds the caller's namespace. @default "taskwire_ns" (TASKWIRE_AUTH_NAMESPACE_CLAIM) */
  authNamespaceClaim: string;
  /** Static API tokens file (YAML or JSON: token → {name, namespace, scopes}). @default none (TASKWIRE_AUTH_TOKENS_FILE) */
  authTokensFile: string | undefined;
  /** Serve gRPC server reflection. @default true (TASKWIRE_REFLECTION) */
  reflection: boolean;
  /** Allow serving a non-loopback address without TLS or without auth. @default false (TASKWIRE_INSECURE) */
  insecure: boolean;
  /** HTTP listen address of /metrics, /healthz, /readyz, the JSON API and the UI; "" or "off": none. @default "127.0.0.1:8050" (TASKWIRE_HTTP_LISTEN) */
  http: string;
  /** The UI's link to a run's trace: a URL with `{traceId}`; "": no links. @default "" (TASKWIRE_UI_TRACE_URL) */
  uiTraceUrl: string;
  /** Directory of the built web UI. @default the broker package's ui-dist/ (TASKWIRE_UI_DIR) */
  uiDir: string | undefined;
  /** Heartbeat interval of runs held for remote workers, in ms; ack_wait is twice it. @default 5_000 (TASKWIRE_HEARTBEAT_MS) */
  workerHeartbeatMs: number;
  /** Largest result a remote worker may report, in bytes. @default 3_145_728 (TASKWIRE_MAX_RESULT_BYTES) */
  workerMaxResultBytes: number;
  /** Remote workers' results above this go to the Object Store, in bytes. @default 65_536 (TASKWIRE_INLINE_RESULT_BYTES) */
  workerInlineResultBytes: number;
  /** Crashed attempts of a remote worker's run retried beyond its retry policy. @default 10 (TASKWIRE_MAX_CRASH_RETRIES) */
  workerMaxCrashRetries: number;
  /** Match run events against automations and execute their action runs in this broker. @default true (TASKWIRE_AUTOMATIONS) */
  automations: boolean;
  /** What automation webhooks may reach beyond public addresses: CIDRs, addresses and host names. @default "" (TASKWIRE_AUTOMATION_ALLOW) */
  automationAllow: string;
  /** Action runs of each built-in automation task this broker executes at once. @default 16 (TASKWIRE_AUTOMATION_CONCURRENCY) */
  automationConcurrency: number;
}

/**
 * The broker's settings: `overrides` (flags, constructor options; undefined
 * entries are ignored) over `TASKWIRE_*` variables over defaults, validated.
 * Throws a ConfigError naming every bad setting and its expected form.
 */
export function configFromEnv(overrides: Partial<BrokerConfig> = {}, env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  return resolveSettings(brokerSettings, overrides, env);
}
