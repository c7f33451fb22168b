import { z } from "zod";

/**
 * Settings are parsed once, when a process starts, from flags, options and
 * `TASKWIRE_*` variables, and validated by these schemas. A bad value stops
 * the process with a message that names the setting and the expected form
 * (`TASKWIRE_MAX_RESULT_BYTES=3MiB: expected a whole number of bytes…`),
 * instead of becoming NaN somewhere later.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** A whole number in [min, max]; `unit` names what it counts, for the message. */
export function int(unit: string, min: number, max: number = Number.MAX_SAFE_INTEGER): z.ZodType<number, string | number> {
  const expected = `expected a whole number of ${unit} from ${min} to ${max}`;
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === "number" ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: "custom", message: `${expected}${typeof v === "string" && /[a-z]/i.test(v) ? " (no units or suffixes)" : ""}` });
      return z.NEVER;
    }
    return n;
  });
}

/** On/off: true/false, 1/0, yes/no, on/off. */
export function flag(): z.ZodType<boolean, string | boolean> {
  return z.union([z.boolean(), z.string()]).transform((v, ctx) => {
    if (typeof v === "boolean") return v;
    const s = v.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(s)) return true;
    if (["0", "false", "no", "off"].includes(s)) return false;
    ctx.addIssue({ code: "custom", message: "expected true or false (also 1/0, yes/no, on/off)" });
    return z.NEVER;
  });
}

/** A `host:port` listen address. */
export function hostPort(): z.ZodType<string, string> {
  return z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "expected host:port, e.g. 127.0.0.1:50051 or 0.0.0.0:50051");
}

/**
 * A `host:port` listen address, or off: "" or "off" (both resolve to "").
 * Use with `{ emptyIsValue: true }` so an empty variable turns it off.
 */
export function listenOrOff(): z.ZodType<string, string> {
  return z.union([z.literal(""), z.literal("off").transform(() => ""), hostPort()], { error: "expected host:port (e.g. 127.0.0.1:8050, 0.0.0.0:8050, 127.0.0.1:0 for any free port) or off" });
}

/** A whole number of ms, or "off" (also "" and undefined): undefined. */
export function msOrOff(min: number, max: number): z.ZodType<number | undefined, string | number | undefined> {
  const off = z.union([z.undefined(), z.string().regex(/^\s*(off)?\s*$/i)]).transform(() => undefined);
  return z.union([off, int("ms", min, max)], { error: `expected off or a whole number of ms from ${min} to ${max} (no units or suffixes)` });
}

/** One or more NATS URLs, comma separated. */
export function natsUrls(): z.ZodType<string, string> {
  return z
    .string()
    .min(1)
    .refine((v) => v.split(",").every((u) => /^(nats|tls|ws|wss):\/\/[^\s,]+$|^[A-Za-z0-9.-]+:\d+$/.test(u.trim())), "expected NATS URL(s), comma separated, e.g. nats://127.0.0.1:4222");
}

/** A non-empty string (a path, a URL, a secret), taken as given. */
export function text(what = "a value"): z.ZodType<string, string> {
  return z.string().trim().min(1, `expected ${what}`);
}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export function logLevel(): z.ZodType<(typeof LOG_LEVELS)[number], string> {
  return z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(", ")}` });
}

/** A setting: where it comes from in the environment, and its schema. */
export interface Setting<T> {
  env: string;
  schema: z.ZodType<T, never>;
  default: T;
  /** An empty variable is a value (e.g. "off") rather than "unset, use the default". */
  emptyIsValue?: boolean;
}

export function setting<T, I>(env: string, schema: z.ZodType<T, I>, defaultValue: T, opts: { emptyIsValue?: boolean } = {}): Setting<T> {
  return { env, schema: schema as unknown as z.ZodType<T, never>, default: defaultValue, ...opts };
}

export type Settings = Record<string, Setting<unknown>>;
export type Resolved<S extends Settings> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

/**
 * Resolves every setting of `settings`: the explicit value (a flag or an
 * option) when given, else the environment variable when set and not
 * empty, else the default; each validated by its schema. All problems are
 * reported at once in one ConfigError.
 */
export function resolveSettings<S extends Settings>(settings: S, explicit: Partial<Record<keyof S, unknown>> = {}, env: NodeJS.ProcessEnv = process.env): Resolved<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of Object.entries(settings)) {
    const given = explicit[key as keyof S];
    const fromEnv = env[s.env];
    const source = given !== undefined ? { what: `${key}`, value: given } : fromEnv !== undefined && (fromEnv !== "" || s.emptyIsValue) ? { what: s.env, value: fromEnv } : undefined;
    if (!source) {
      out[key] = s.default;
      continue;
    }
    const r = s.schema.safeParse(source.value as never);
    if (r.success) out[key] = r.data;
    else problems.push(`${source.what}=${typeof source.value === "string" ? source.value : JSON.stringify(source.value)}: ${r.error.issues.map((i) => i.message).join("; ")}`);
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  return out as Resolved<S>;
}

/** The NATS settings every broker and worker reads the same way. */
export const natsSettings = {
  natsUrl: setting("TASKWIRE_NATS_URL", natsUrls(), "nats://127.0.0.1:4222"),
  /** Stream and bucket replicas; one value for the whole deployment (3 on a 3-node cluster). */
  replicas: setting("TASKWIRE_REPLICAS", int("replicas", 1, 5), 1),
  /** Retention of run records, idempotency keys, cached and stored results, in ms. */
  retentionMs: setting("TASKWIRE_RETENTION_MS", int("ms", 60_000, 10 * 365 * 86_400_000), 604_800_000),
  coalesceWrites: setting("TASKWIRE_NATS_COALESCE_WRITES", flag(), true),
  /** NATS user (with natsPassword). @default none */
  natsUser: setting("TASKWIRE_NATS_USER", text("a user name"), undefined as string | undefined),
  /** NATS password of natsUser. @default none */
  natsPassword: setting("TASKWIRE_NATS_PASSWORD", text("a password"), undefined as string | undefined),
  /** NATS auth token. @default none */
  natsToken: setting("TASKWIRE_NATS_TOKEN", text("a token"), undefined as string | undefined),
  /** File with a NATS user nkey seed. @default none */
  natsNkeyFile: setting("TASKWIRE_NATS_NKEY_FILE", text("a file path"), undefined as string | undefined),
  /** NATS .creds file (user JWT + seed). @default none */
  natsCredsFile: setting("TASKWIRE_NATS_CREDS_FILE", text("a file path"), undefined as string | undefined),
  /** CA (PEM) the NATS server's certificate must chain to; turns TLS on. @default none */
  natsTlsCa: setting("TASKWIRE_NATS_TLS_CA", text("a file path"), undefined as string | undefined),
  /** Client certificate (PEM) for NATS servers that verify clients. @default none */
  natsTlsCert: setting("TASKWIRE_NATS_TLS_CERT", text("a file path"), undefined as string | undefined),
  /** Key (PEM) of natsTlsCert. @default none */
  natsTlsKey: setting("TASKWIRE_NATS_TLS_KEY", text("a file path"), undefined as string | undefined),
} satisfies Settings;

export type NatsSettings = Resolved<typeof natsSettings>;
