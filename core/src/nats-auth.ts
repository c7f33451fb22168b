import { readFileSync } from "node:fs";
import { type Authenticator, credsAuthenticator, nkeyAuthenticator, type NodeConnectionOptions } from "@nats-io/transport-node";
import { ConfigError, natsSettings, resolveSettings } from "./config.js";

/**
 * How a broker or worker proves itself to NATS, and the TLS it uses. One
 * of user/password, token, nkey seed file or creds file (JWT + seed, the
 * decentralised-auth form); TLS with a CA and, for servers that verify
 * clients, a client certificate. Files are re-read at every (re)connect,
 * so rotated credentials and certificates are picked up.
 */
export interface NatsAuth {
  /** TASKWIRE_NATS_USER */
  user?: string;
  /** TASKWIRE_NATS_PASSWORD */
  password?: string;
  /** TASKWIRE_NATS_TOKEN */
  token?: string;
  /** File holding an nkey seed (`SU…`), TASKWIRE_NATS_NKEY_FILE */
  nkeyFile?: string;
  /** A `.creds` file (user JWT and nkey seed), TASKWIRE_NATS_CREDS_FILE */
  credsFile?: string;
  /** CA (PEM) the server's certificate must chain to, TASKWIRE_NATS_TLS_CA */
  tlsCa?: string;
  /** Client certificate (PEM), TASKWIRE_NATS_TLS_CERT */
  tlsCert?: string;
  /** Key of the client certificate (PEM), TASKWIRE_NATS_TLS_KEY */
  tlsKey?: string;
}

/** The NATS credentials and TLS settings from `TASKWIRE_NATS_*` (validated). */
export function natsAuthFromEnv(env: NodeJS.ProcessEnv = process.env): NatsAuth {
  const s = resolveSettings(
    {
      user: natsSettings.natsUser,
      password: natsSettings.natsPassword,
      token: natsSettings.natsToken,
      nkeyFile: natsSettings.natsNkeyFile,
      credsFile: natsSettings.natsCredsFile,
      tlsCa: natsSettings.natsTlsCa,
      tlsCert: natsSettings.natsTlsCert,
      tlsKey: natsSettings.natsTlsKey,
    },
    {},
    env,
  );
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as NatsAuth;
}

function readable(path: string, env: string): void {
  try {
    readFileSync(path);
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  ${env}=${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** nats.js connection options for `auth`; a ConfigError names a contradiction or an unreadable file. */
export function natsConnectionAuth(auth: NatsAuth): Partial<NodeConnectionOptions> {
  const problems: string[] = [];
  const ways = [auth.user || auth.password ? "user/password" : "", auth.token ? "token" : "", auth.nkeyFile ? "nkey" : "", auth.credsFile ? "creds file" : ""].filter(Boolean);
  if (ways.length > 1) problems.push(`set one NATS credential, not ${ways.join(" and ")} (TASKWIRE_NATS_USER/PASSWORD, TASKWIRE_NATS_TOKEN, TASKWIRE_NATS_NKEY_FILE, TASKWIRE_NATS_CREDS_FILE)`);
  if (!!auth.user !== !!auth.password) problems.push("TASKWIRE_NATS_USER and TASKWIRE_NATS_PASSWORD go together");
  if (!!auth.tlsCert !== !!auth.tlsKey) problems.push("TASKWIRE_NATS_TLS_CERT and TASKWIRE_NATS_TLS_KEY go together");
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  const out: Partial<NodeConnectionOptions> = {};
  if (auth.user) {
    out.user = auth.user;
    out.pass = auth.password;
  }
  if (auth.token) out.token = auth.token;
  let authenticator: Authenticator | undefined;
  if (auth.credsFile) {
    const path = auth.credsFile;
    readable(path, "TASKWIRE_NATS_CREDS_FILE");
    authenticator = credsAuthenticator(() => readFileSync(path));
  }
  if (auth.nkeyFile) {
    const path = auth.nkeyFile;
    readable(path, "TASKWIRE_NATS_NKEY_FILE");
    const seed = readFileSync(path, "utf8").trim();
    if (!/^SU[A-Z2-7]{56}$/.test(seed)) throw new ConfigError(`invalid configuration:\n  TASKWIRE_NATS_NKEY_FILE=${path}: expected a user nkey seed (58 characters starting with "SU", e.g. from \`nsc\` or \`nk -gen user\`)`);
    authenticator = nkeyAuthenticator(() => new TextEncoder().encode(readFileSync(path, "utf8").trim()));
  }
  if (authenticator) out.authenticator = authenticator;
  if (auth.tlsCa || auth.tlsCert) {
    if (auth.tlsCa) readable(auth.tlsCa, "TASKWIRE_NATS_TLS_CA");
    if (auth.tlsCert) readable(auth.tlsCert, "TASKWIRE_NATS_TLS_CERT");
    if (auth.tlsKey) readable(auth.tlsKey, "TASKWIRE_NATS_TLS_KEY");
    out.tls = { caFile: auth.tlsCa, certFile: auth.tlsCert, keyFile: auth.tlsKey };
  }
  return out;
}
