import { readFileSync } from "node:fs";
import { type ChannelCredentials, credentials as grpcCredentials } from "@grpc/grpc-js";
import { Status, TaskwireError } from "./errors.js";

/**
 * TLS to the broker. Each of `ca`, `cert`, `key` is PEM text or a path to a
 * PEM file (text is recognised by its "-----BEGIN" line).
 */
export interface TlsOptions {
  /** CA bundle the broker's certificate must chain to. @default the system's roots (env TASKWIRE_TLS_CA) */
  ca?: string | Buffer;
  /** Client certificate, for brokers that require mTLS (env TASKWIRE_TLS_CERT, used when TLS is on). */
  cert?: string | Buffer;
  /** Private key of `cert` (env TASKWIRE_TLS_KEY). */
  key?: string | Buffer;
}

function pem(value: string | Buffer | undefined, what: string): Buffer | undefined {
  if (value === undefined || value === "") return undefined;
  if (Buffer.isBuffer(value)) return value;
  if (value.includes("-----BEGIN")) return Buffer.from(value);
  try {
    return readFileSync(value);
  } catch (err) {
    throw new TaskwireError(Status.INVALID_ARGUMENT, `TLS ${what}: cannot read ${value} (${(err as NodeJS.ErrnoException).code ?? String(err)}); pass PEM text or a readable file path`);
  }
}

/**
 * The TLS options a client uses: `tls` when given (`true` = TLS with the
 * system's roots), else from the environment — TLS is on when
 * TASKWIRE_TLS_CA is set or TASKWIRE_TLS is true, and then
 * TASKWIRE_TLS_CERT/TASKWIRE_TLS_KEY are the client certificate. Undefined
 * means plaintext.
 */
export function tlsFromEnv(tls: TlsOptions | boolean | undefined, env: NodeJS.ProcessEnv = process.env): TlsOptions | undefined {
  if (tls === false) return undefined;
  if (tls === true) return {};
  if (tls) return tls;
  const on = !!env.TASKWIRE_TLS_CA || /^(1|true|yes|on)$/i.test(env.TASKWIRE_TLS ?? "");
  if (!on) return undefined;
  return { ca: env.TASKWIRE_TLS_CA || undefined, cert: env.TASKWIRE_TLS_CERT || undefined, key: env.TASKWIRE_TLS_KEY || undefined };
}

/** grpc-js channel credentials for `tls` (see tlsFromEnv); insecure when undefined. */
export function channelCredentials(tls: TlsOptions | undefined): ChannelCredentials {
  if (!tls) return grpcCredentials.createInsecure();
  const cert = pem(tls.cert, "cert");
  const key = pem(tls.key, "key");
  if (!!cert !== !!key) throw new TaskwireError(Status.INVALID_ARGUMENT, "TLS: a client certificate needs its key (cert and key, or TASKWIRE_TLS_CERT and TASKWIRE_TLS_KEY), and a key its certificate");
  return grpcCredentials.createSsl(pem(tls.ca, "ca") ?? null, key ?? null, cert ?? null);
}
