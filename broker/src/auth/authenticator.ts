import { status as Status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { BrokerError } from "../errors.js";
import { watchFiles } from "../file-watch.js";
import { JwtVerifier, TokenRefused } from "./jwt.js";
import { ALL_SCOPES, type Caller, DEFAULT_NAMESPACE, NAMESPACE_PATTERN, parseScopes, requireScope, type Scope } from "./scopes.js";
import { StaticTokens } from "./tokens.js";

/** Authentication settings (see docs/security.md). With none of the sources set, auth is off. */
export interface AuthOptions {
  /** JWKS file to verify JWTs against (TASKWIRE_AUTH_JWKS_FILE); re-read when it changes. */
  jwksFile?: string;
  /** JWKS URL to verify JWTs against (TASKWIRE_AUTH_JWKS_URL). */
  jwksUrl?: string;
  /** HS256 shared secret to verify JWTs with (TASKWIRE_AUTH_JWT_SECRET), ≥ 32 bytes. */
  jwtSecret?: string;
  /** Required JWT issuer (TASKWIRE_AUTH_ISSUER). @default any */
  issuer?: string;
  /** Required JWT audience (TASKWIRE_AUTH_AUDIENCE). @default any */
  audience?: string;
  /** Static API tokens file, YAML or JSON (TASKWIRE_AUTH_TOKENS_FILE); re-read when it changes. */
  tokensFile?: string;
  /** The JWT claim holding the namespace (TASKWIRE_AUTH_NAMESPACE_CLAIM). @default "taskwire_ns" */
  namespaceClaim?: string;
}

/** The caller when no auth is configured: every scope, namespace "default". */
export const ANONYMOUS: Caller = Object.freeze({ subject: "anonymous", namespace: DEFAULT_NAMESPACE, scopes: new Set<Scope>(ALL_SCOPES) });

/** Verified JWTs are remembered this long (never past their exp), so a busy client's calls skip the signature check. */
const CACHE_MS = 60_000;
const CACHE_MAX = 10_000;

const unauthenticated = (message: string): BrokerError => new BrokerError(Status.UNAUTHENTICATED, message);

/**
 * Turns a call's `authorization` header into a Caller, for the gRPC
 * service and the JSON API alike. Bearer tokens are JWTs (verified with
 * jose against a JWKS or a shared secret; scopes from `scope` or `scopes`,
 * namespace from `taskwire_ns`) or static API tokens from a file. With no
 * auth configured every call is the anonymous caller (all scopes,
 * namespace "default"): the broker then serves only on loopback.
 */
export class Authenticator {
  readonly #jwt: JwtVerifier | undefined;
  #tokens: StaticTokens | undefined;
  readonly #namespaceClaim: string;
  readonly #cache = new Map<string, { caller: Caller; until: number }>();
  readonly #stops: Array<() => void> = [];

  /** Reads the configured files at once; throws a ConfigError naming a bad setting or file. */
  constructor(
    readonly options: AuthOptions = {},
    readonly log?: Logger,
  ) {
    this.#namespaceClaim = options.namespaceClaim || "taskwire_ns";
    const jwt = options.jwksFile || options.jwksUrl || options.jwtSecret;
    this.#jwt = jwt ? new JwtVerifier({ jwksFile: options.jwksFile, jwksUrl: options.jwksUrl, secret: options.jwtSecret, issuer: options.issuer, audience: options.audience }) : undefined;
    const tokensFile = options.tokensFile;
    if (tokensFile) {
      this.#tokens = StaticTokens.load(tokensFile);
      this.#stops.push(watchFiles([tokensFile], () => this.#reload("tokens file", tokensFile, () => (this.#tokens = StaticTokens.load(tokensFile)))));
    }
    const jwksFile = options.jwksFile;
    if (jwksFile && this.#jwt) {
      const v = this.#jwt;
      this.#stops.push(watchFiles([jwksFile], () => this.#reload("JWKS file", jwksFile, () => v.reloadJwksFile())));
    }
  }

  /** True when tokens are checked (a JWT source or a tokens file is configured). */
  get enabled(): boolean {
    return this.#jwt !== undefined || this.#tokens !== undefined;
  }

  /** Stops watching the files. */
  close(): void {
    for (const stop of this.#stops.splice(0)) stop();
  }

  #reload(what: string, path: string, load: () => void): void {
    try {
      load();
      this.#cache.clear();
      this.log?.info({ path }, `auth ${what} reloaded`);
    } catch (err) {
      // Keep serving with what was loaded before: a half-written file must not lock everyone out.
      this.log?.warn({ err, path }, `auth ${what} changed but cannot be used; keeping the previous one`);
    }
  }

  /**
   * The caller behind an `authorization` header value (`Bearer <token>`).
   * UNAUTHENTICATED, saying which: missing token, malformed, bad
   * signature, expired, unknown static token.
   */
  async authenticate(authorization: string | undefined): Promise<Caller> {
    if (!this.enabled) return ANONYMOUS;
    if (authorization === undefined || authorization.trim() === "") {
      throw unauthenticated("missing token: this broker requires a bearer token; send the metadata 'authorization: Bearer <token>' (the clients read TASKWIRE_TOKEN)");
    }
    const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(authorization);
    const token = m?.[1];
    if (!token) throw unauthenticated("malformed authorization: expected 'Bearer <token>'");
    const cached = this.#cache.get(token);
    if (cached && cached.until > Date.now()) return cached.caller;
    const fromFile = this.#tokens?.lookup(token);
    if (fromFile) return { subject: fromFile.name, namespace: fromFile.namespace, scopes: fromFile.scopes };
    const looksLikeJwt = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
    if (!this.#jwt || !looksLikeJwt) {
      if (this.#tokens) throw unauthenticated("unknown static token: it is not in the broker's tokens file (TASKWIRE_AUTH_TOKENS_FILE)");
      throw unauthenticated("malformed token: expected a JWT (three base64url parts separated by dots)");
    }
    const caller = await this.#verifyJwt(token);
    return caller;
  }

  async #verifyJwt(token: string): Promise<Caller> {
    let claims;
    try {
      claims = await (this.#jwt as JwtVerifier).verify(token);
    } catch (err) {
      if (err instanceof TokenRefused) throw new BrokerError(err.kind === "unavailable" ? Status.UNAVAILABLE : Status.UNAUTHENTICATED, err.message);
      throw err;
    }
    const ns = claims[this.#namespaceClaim] ?? DEFAULT_NAMESPACE;
    if (typeof ns !== "string" || !NAMESPACE_PATTERN.test(ns)) {
      throw unauthenticated(`malformed token: claim "${this.#namespaceClaim}" must be a namespace of 1–64 [A-Za-z0-9_-], got ${JSON.stringify(ns)}`);
    }
    const scopes = parseScopes(claims.scope ?? claims.scopes);
    const caller: Caller = { subject: claims.sub ?? "jwt", namespace: ns, scopes };
    const until = Math.min(Date.now() + CACHE_MS, claims.exp !== undefined ? claims.exp * 1000 : Infinity);
    if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
    this.#cache.set(token, { caller, until });
    return caller;
  }

  /** PERMISSION_DENIED naming the missing scope and the method. */
  requireScope(caller: Caller, scope: Scope, method: string): void {
    requireScope(caller, scope, method);
  }

  /** authenticate, then requireScope: the caller of `method`, allowed to call it. */
  async authorize(authorization: string | undefined, scope: Scope, method: string): Promise<Caller> {
    const caller = await this.authenticate(authorization);
    requireScope(caller, scope, method);
    return caller;
  }
}
