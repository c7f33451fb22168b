import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "@taskwire/core";
import { parse } from "yaml";
import { ALL_SCOPES, DEFAULT_NAMESPACE, NAMESPACE_PATTERN, type Scope } from "./scopes.js";

/** What a static API token grants. */
export interface StaticToken {
  /** Shown as the caller's subject in logs and errors. */
  name: string;
  namespace: string;
  scopes: ReadonlySet<Scope>;
}

/** Shortest plain token accepted: shorter ones are guessable. */
export const MIN_TOKEN_LENGTH = 16;

const sha256 = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/**
 * Static API tokens from a YAML or JSON file, for setups without an
 * identity provider:
 *
 * ```yaml
 * "tw_3c1f…":                       # the token itself (≥ 16 characters), or
 *   name: billing-service
 *   namespace: billing
 *   scopes: [runs:submit, runs:read]
 * "sha256:9f86d08…":                # its SHA-256 in hex, so the file holds no secret
 *   name: ops
 *   scopes: "runs:read runs:cancel schedules:admin"
 * ```
 *
 * (an optional top-level `tokens:` key may hold the same map). Only
 * SHA-256 hashes are kept in memory; a presented token is hashed and
 * compared with every entry in constant time (crypto.timingSafeEqual), so
 * the answer's timing says nothing about how close a guess was.
 */
export class StaticTokens {
  private constructor(readonly entries: ReadonlyArray<{ hash: Buffer; token: StaticToken }>) {}

  /** Reads and validates the file; throws a ConfigError naming the file and every bad entry. */
  static load(path: string): StaticTokens {
    let doc: unknown;
    try {
      doc = parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new ConfigError(`TASKWIRE_AUTH_TOKENS_FILE=${path}: cannot read it as YAML or JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    return StaticTokens.from(doc, path);
  }

  /** Builds the table from a parsed document (`source` names it in errors). */
  static from(doc: unknown, source: string): StaticTokens {
    const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
    const map = isMap(doc) && isMap(doc.tokens) && Object.keys(doc).length === 1 ? doc.tokens : doc;
    if (!isMap(map)) throw new ConfigError(`TASKWIRE_AUTH_TOKENS_FILE=${source}: expected a map of token → {name, namespace, scopes}`);
    const problems: string[] = [];
    const entries: Array<{ hash: Buffer; token: StaticToken }> = [];
    for (const [key, value] of Object.entries(map)) {
      const label = key.startsWith("sha256:") ? key.slice(0, 15) + "…" : `token ${key.slice(0, 4)}…`;
      const hashed = /^sha256:[0-9a-fA-F]{64}$/.test(key);
      if (key.startsWith("sha256:") && !hashed) problems.push(`${label}: a sha256: key needs 64 hex digits`);
      if (!key.startsWith("sha256:") && key.length < MIN_TOKEN_LENGTH) problems.push(`${label}: a token needs at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 32)`);
      if (!isMap(value)) {
        problems.push(`${label}: expected {name, namespace, scopes}`);
        continue;
      }
      const name = typeof value.name === "string" && value.name ? value.name : `static token ${entries.length + 1}`;
      const namespace = value.namespace === undefined ? DEFAULT_NAMESPACE : value.namespace;
      if (typeof namespace !== "string" || !NAMESPACE_PATTERN.test(namespace)) problems.push(`${name}: namespace must be 1–64 of [A-Za-z0-9_-], got ${JSON.stringify(namespace)}`);
      const raw = typeof value.scopes === "string" ? value.scopes.split(/\s+/).filter(Boolean) : Array.isArray(value.scopes) ? value.scopes : undefined;
      if (!raw) {
        problems.push(`${name}: scopes is required: a list or a space-separated string of ${ALL_SCOPES.join(", ")}`);
        continue;
      }
      const unknown = raw.filter((s) => typeof s !== "string" || !(ALL_SCOPES as readonly string[]).includes(s));
      if (unknown.length > 0) problems.push(`${name}: unknown scope(s) ${unknown.map((s) => JSON.stringify(s)).join(", ")}; known: ${ALL_SCOPES.join(", ")}`);
      const hash = hashed ? Buffer.from(key.slice(7), "hex") : sha256(key);
      entries.push({ hash, token: { name, namespace: String(namespace), scopes: new Set(raw.filter((s): s is Scope => (ALL_SCOPES as readonly string[]).includes(s as string))) } });
    }
    if (problems.length > 0) throw new ConfigError(`TASKWIRE_AUTH_TOKENS_FILE=${source}:\n  ${problems.join("\n  ")}`);
    return new StaticTokens(entries);
  }

  /** The entry of `token`, comparing its hash with every entry in constant time. */
  lookup(token: string): StaticToken | undefined {
    const h = sha256(token);
    let found: StaticToken | undefined;
    for (const e of this.entries) if (timingSafeEqual(h, e.hash) && !found) found = e.token;
    return found;
  }
}
