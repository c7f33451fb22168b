import { readFileSync } from "node:fs";
import { createLocalJWKSet, createRemoteJWKSet, errors, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import { ConfigError } from "@taskwire/core";

/** Where JWT signatures are checked against, and which claims must hold. */
export interface JwtOptions {
  /** A JWKS (JSON) file; re-read when it changes. */
  jwksFile?: string;
  /** A JWKS URL (e.g. an identity provider's `/.well-known/jwks.json`), fetched and cached by jose. */
  jwksUrl?: string;
  /** An HS256/384/512 shared secret (at least 32 bytes). */
  secret?: string;
  /** Required `iss`, when set. */
  issuer?: string;
  /** Required `aud` (one of), when set. */
  audience?: string;
}

/** Why a token was refused, in the caller's words: which check failed. */
export class TokenRefused extends Error {
  override readonly name = "TokenRefused";
  constructor(
    readonly kind: "malformed" | "bad signature" | "expired" | "claim" | "unavailable",
    message: string,
  ) {
    super(message);
  }
}

const HMAC = ["HS256", "HS384", "HS512"];
const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

/** Verifies JWTs with jose: signature (JWKS or shared secret), `exp`/`nbf`, and the optional issuer and audience. */
export class JwtVerifier {
  #localJwks: JWTVerifyGetKey | undefined;
  readonly #remoteJwks: JWTVerifyGetKey | undefined;
  readonly #secret: Uint8Array | undefined;

  constructor(readonly options: JwtOptions) {
    if (options.secret !== undefined && Buffer.byteLength(options.secret) < 32) throw new ConfigError("TASKWIRE_AUTH_JWT_SECRET: the shared secret must be at least 32 bytes (HS256 needs 256 bits), e.g. openssl rand -hex 32");
    this.#secret = options.secret !== undefined ? new TextEncoder().encode(options.secret) : undefined;
    if (options.jwksUrl) {
      let url: URL;
      try {
        url = new URL(options.jwksUrl);
      } catch {
        throw new ConfigError(`TASKWIRE_AUTH_JWKS_URL=${options.jwksUrl}: not a URL`);
      }
      this.#remoteJwks = createRemoteJWKSet(url);
    }
    if (options.jwksFile) this.reloadJwksFile();
  }

  /** (Re-)reads the JWKS file; throws a ConfigError when it is not a JWKS. */
  reloadJwksFile(): void {
    const path = this.options.jwksFile;
    if (!path) return;
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(readFileSync(path, "utf8")) as JSONWebKeySet;
      if (!Array.isArray(jwks.keys)) throw new Error('no "keys" array');
      this.#localJwks = createLocalJWKSet(jwks);
    } catch (err) {
      throw new ConfigError(`TASKWIRE_AUTH_JWKS_FILE=${path}: not a JSON Web Key Set (${err instanceof Error ? err.message : String(err)})`);
    }
  }

  /** The token's claims, or a TokenRefused saying which check failed. */
  async verify(token: string): Promise<JWTPayload> {
    const getKey: JWTVerifyGetKey = async (header, input) => {
      if (HMAC.includes(header.alg ?? "")) {
        if (this.#secret) return this.#secret;
        throw new TokenRefused("bad signature", `bad signature: the token is signed with ${header.alg}, but the broker has no shared secret (it verifies against a JWKS)`);
      }
      const jwks = this.#localJwks ?? this.#remoteJwks;
      if (!jwks) throw new TokenRefused("bad signature", `bad signature: the token is signed with ${header.alg ?? "no algorithm"}, but the broker verifies HS256 tokens with its shared secret`);
      return jwks(header, input);
    };
    try {
      const { payload } = await jwtVerify(token, getKey, {
        algorithms: [...(this.#secret ? HMAC : []), ...(this.#localJwks || this.#remoteJwks ? ASYMMETRIC : [])],
        issuer: this.options.issuer || undefined,
        audience: this.options.audience || undefined,
        clockTolerance: 5,
      });
      return payload;
    } catch (err) {
      throw refusal(err);
    }
  }
}

function refusal(err: unknown): TokenRefused {
  if (err instanceof TokenRefused) return err;
  if (err instanceof errors.JWTExpired) return new TokenRefused("expired", `token expired: its exp claim (${String(err.payload.exp)}) is in the past; get a new token`);
  if (err instanceof errors.JWTClaimValidationFailed) return new TokenRefused("claim", `token refused: claim "${err.claim}" ${err.reason === "missing" ? "is missing" : `check failed (${err.message})`}`);
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenRefused("bad signature", "bad signature: the token was not signed by a key this broker trusts");
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenRefused("bad signature", "bad signature: no key in the broker's JWKS matches the token's kid/alg");
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenRefused("bad signature", `bad signature: ${err.message}`);
  if (err instanceof errors.JWKSTimeout || (err instanceof Error && /fetch|ECONNREFUSED|ENOTFOUND|Expected 200/i.test(err.message))) return new TokenRefused("unavailable", `the JWKS URL could not be read to verify the token (${err instanceof Error ? err.message : String(err)}); retry`);
  return new TokenRefused("malformed", `malformed token: ${err instanceof Error ? err.message : String(err)}`);
}
