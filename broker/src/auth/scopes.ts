import { status as Status } from "@grpc/grpc-js";
import { BrokerError } from "../errors.js";

/** What a caller may do. Each RPC needs one scope (see METHOD_SCOPES). */
export type Scope = "runs:submit" | "runs:read" | "runs:cancel" | "schedules:admin" | "automations:admin" | "workers";

/** Every scope, in the order the docs list them. */
export const ALL_SCOPES: readonly Scope[] = ["runs:submit", "runs:read", "runs:cancel", "schedules:admin", "automations:admin", "workers"];

/** The namespace of callers without one (no auth configured, tokens without a namespace). */
export const DEFAULT_NAMESPACE = "default";

/**
 * Namespaces are 1–64 of `[A-Za-z0-9_-]`: they become part of NATS KV keys
 * (schedules of a namespace other than "default" are stored as
 * `<namespace>.<name>`), and a dot would make that ambiguous.
 */
export const NAMESPACE_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Who is calling, as the broker's handlers (gRPC and JSON API) see it. */
export interface Caller {
  /** The token's subject (JWT `sub`) or the static token's name; "anonymous" without auth. */
  subject: string;
  /** The namespace every run, schedule, idempotency key and cached result of this call belongs to. */
  namespace: string;
  /** What the caller may do. */
  scopes: ReadonlySet<Scope>;
}

/** The scope each TaskService RPC needs. Health is open; WorkerService needs "workers". */
export const METHOD_SCOPES: Readonly<Record<string, Scope>> = {
  Submit: "runs:submit",
  SubmitBatch: "runs:submit",
  SubmitStream: "runs:submit",
  GetStatus: "runs:read",
  ListRuns: "runs:read",
  StreamEvents: "runs:read",
  Cancel: "runs:cancel",
  Retry: "runs:cancel",
  CreateSchedule: "schedules:admin",
  ListSchedules: "schedules:admin",
  PauseSchedule: "schedules:admin",
  DeleteSchedule: "schedules:admin",
  // Automations send run data to outside URLs and act on runs: their own
  // scope, so a token may manage schedules without reaching out (and
  // creating one also needs the scopes of its actions, see automations/).
  CreateAutomation: "automations:admin",
  ListAutomations: "automations:admin",
  GetAutomation: "automations:admin",
  PauseAutomation: "automations:admin",
  DeleteAutomation: "automations:admin",
};

/** Scope names from a token: a space-separated string (`scope`, as OAuth 2 has it) or an array (`scopes`); unknown names are ignored. */
export function parseScopes(value: unknown): Set<Scope> {
  const names = typeof value === "string" ? value.split(/\s+/) : Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  return new Set(names.filter((n): n is Scope => (ALL_SCOPES as readonly string[]).includes(n)));
}

/** PERMISSION_DENIED naming the missing scope and the method, unless the caller has the scope. */
export function requireScope(caller: Caller, scope: Scope, method: string): void {
  if (caller.scopes.has(scope)) return;
  const has = caller.scopes.size > 0 ? [...caller.scopes].join(" ") : "none";
  throw new BrokerError(Status.PERMISSION_DENIED, `${method} needs the scope "${scope}"; the token of ${caller.subject} (namespace ${caller.namespace}) has ${has} — issue a token with "${scope}"`);
}
