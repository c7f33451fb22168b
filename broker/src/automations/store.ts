import type { KV, KvWatchEntry } from "@nats-io/kv";
import { status as Status } from "@grpc/grpc-js";
import { Automation, type ListAutomationsRequest, type ListAutomationsResponse } from "@taskwire/protocol";
import { isWrongLastSequence, listKeys } from "@taskwire/core";
import type { Logger } from "pino";
import { requireScope, type Caller } from "../auth/index.js";
import { scheduleKey } from "../cron.js";
import { BrokerError } from "../errors.js";
import { DEFAULT_NS } from "../runs.js";
import { validateTaskName } from "../validate.js";
import type { EgressPolicy } from "./egress.js";
import { type StateStore, statusOf } from "./state.js";
import { ACTION_SCOPES, actionKind, AUTOMATION_LIMITS, type AutomationBounds, newSecret, validateAutomation, validateUrl } from "./validate.js";

/** Automations per ListAutomations page when the caller does not say. */
const DEFAULT_PAGE = 100;

/** The KV key of an automation: as a schedule's, `<namespace>.<name>` outside namespace "default". */
export const automationKey = scheduleKey;

/** Whether a KV key holds an automation of `namespace`. */
function inNamespace(key: string, namespace: string): boolean {
  return namespace === DEFAULT_NS ? !key.includes(".") : key.startsWith(`${namespace}.`);
}

/** An automation without its secret: what callers see. */
function redacted(a: Automation): Automation {
  return { ...a, secret: "" };
}

/**
 * Automations in the taskwire_automations bucket: create/replace, list,
 * get, pause, delete, and a cache (a watch of the bucket) that every
 * broker's engine matches events against.
 */
export class AutomationStore {
  /** Every automation of every namespace, by key, with its secret. */
  readonly cache = new Map<string, Automation>();
  #watch: (AsyncIterable<KvWatchEntry> & { stop(): void }) | undefined;
  #listeners: Array<() => void> = [];

  constructor(
    readonly kv: KV,
    readonly state: StateStore,
    readonly egress: EgressPolicy,
    readonly bounds: AutomationBounds,
    readonly log: Logger,
    /** Called before an automation is first stored: the engine makes sure its event consumer exists, so no event after the answer is missed. */
    readonly beforeCreate: () => Promise<void>,
    readonly ensureConnected: () => void,
  ) {}

  /** Calls `fn` after each change the watch delivers. */
  onChange(fn: () => void): void {
    this.#listeners.push(fn);
  }

  async start(): Promise<void> {
    const w = await this.kv.watch();
    this.#watch = w;
    void (async () => {
      for await (const e of w) {
        try {
          if (e.operation === "PUT" && e.value.length > 0) this.cache.set(e.key, Automation.decode(e.value));
          else this.cache.delete(e.key);
        } catch (err) {
          this.log.warn({ err, key: e.key }, "undecodable automation in the bucket; ignored");
        }
        for (const l of this.#listeners) l();
      }
    })();
  }

  stop(): void {
    this.#watch?.stop();
  }

  /** The automations of `namespace` now in the cache. */
  *inNamespace(namespace: string): Iterable<[string, Automation]> {
    for (const [k, a] of this.cache) if (inNamespace(k, namespace)) yield [k, a];
  }

  /** The automation stored under `key`, read from the bucket (the cache may be a moment behind). */
  async read(key: string): Promise<Automation | undefined> {
    const e = await this.kv.get(key);
    return e?.operation === "PUT" && e.value.length > 0 ? Automation.decode(e.value) : undefined;
  }

  /**
   * Creates or replaces an automation of the caller's namespace. The
   * caller needs the scopes its actions use; its URLs must be allowed.
   * Answers the automation (without secret) and a generated secret when
   * it made one.
   */
  async create(input: Automation | undefined, caller: Caller): Promise<{ automation: Automation; secret: string }> {
    this.ensureConnected();
    const a = validateAutomation(input, this.bounds);
    for (const [i, action] of a.actions.entries()) {
      const scope = ACTION_SCOPES[actionKind(action, `automation.actions[${i}]`)];
      if (scope) requireScope(caller, scope, `CreateAutomation with a ${actionKind(action, "")} action`);
      const url = action.webhook?.url ?? action.chat?.url;
      if (url) {
        const refused = await this.egress.checkUrl(validateUrl(`automation.actions[${i}]`, url));
        if (refused) throw BrokerError.invalid(`automation.actions[${i}].${action.webhook ? "webhook" : "chat"}.url`, refused);
      }
    }
    const namespace = caller.namespace;
    const key = automationKey(a.name, namespace);
    const existing = await this.read(key);
    if (!existing) {
      let count = 0;
      for (const k of await listKeys(this.kv)) if (inNamespace(k, namespace)) count++;
      if (count >= AUTOMATION_LIMITS.perNamespace) throw new BrokerError(Status.RESOURCE_EXHAUSTED, `namespace ${namespace} has ${count} automations, the limit; delete some first`);
    }
    const generated = !a.secret && !existing?.secret ? newSecret() : "";
    const now = new Date();
    const stored: Automation = { ...a, secret: a.secret || existing?.secret || generated, namespace, createdAt: existing?.createdAt ?? now, updatedAt: now, status: undefined };
    await this.beforeCreate();
    await this.kv.put(key, Automation.encode(stored).finish());
    this.cache.set(key, stored);
    this.log.info({ automation: a.name, namespace }, existing ? "automation replaced" : "automation created");
    return { automation: { ...redacted(stored), status: statusOf(await this.state.read(key)) }, secret: generated };
  }

  /** One page of the automations of `namespace`, by name, with their status. */
  async list(req: ListAutomationsRequest, namespace: string): Promise<ListAutomationsResponse> {
    this.ensureConnected();
    if (!Number.isInteger(req.pageSize) || req.pageSize < 0 || req.pageSize > 1000) throw BrokerError.invalid("page_size", `must be 0 (default ${DEFAULT_PAGE}) or 1–1000, got ${req.pageSize}`);
    if (req.pageToken.length > 256) throw BrokerError.invalid("page_token", `is ${req.pageToken.length} characters; pass next_page_token from the previous page unchanged`);
    const size = req.pageSize || DEFAULT_PAGE;
    const names = (await listKeys(this.kv))
      .filter((k) => inNamespace(k, namespace))
      .map((k) => (namespace === DEFAULT_NS ? k : k.slice(namespace.length + 1)))
      .sort()
      .filter((n) => !req.pageToken || n > req.pageToken);
    const page = names.slice(0, size);
    const automations = (await Promise.all(page.map(async (n) => this.#withStatus(automationKey(n, namespace))))).filter((a): a is Automation => a !== undefined);
    return { automations, nextPageToken: names.length > size ? (page.at(-1) ?? "") : "" };
  }

  async get(name: string, namespace: string): Promise<Automation> {
    this.ensureConnected();
    validateTaskName(name, "name");
    const a = await this.#withStatus(automationKey(name, namespace));
    if (!a) throw notFound(name);
    return a;
  }

  async pause(name: string, paused: boolean, namespace: string): Promise<Automation> {
    this.ensureConnected();
    validateTaskName(name, "name");
    const key = automationKey(name, namespace);
    for (let i = 0; i < 20; i++) {
      const e = await this.kv.get(key);
      if (!e || e.operation !== "PUT" || e.value.length === 0) throw notFound(name);
      const next: Automation = { ...Automation.decode(e.value), paused, updatedAt: new Date() };
      try {
        await this.kv.update(key, Automation.encode(next).finish(), e.revision);
        this.cache.set(key, next);
        return { ...redacted(next), status: statusOf(await this.state.read(key)) };
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw new BrokerError(Status.ABORTED, `automation ${name} is changing concurrently; retry`);
  }

  async delete(name: string, namespace: string): Promise<void> {
    this.ensureConnected();
    validateTaskName(name, "name");
    const key = automationKey(name, namespace);
    if (!(await this.read(key))) throw notFound(name);
    await this.kv.delete(key);
    this.cache.delete(key);
    await this.state.delete(key).catch((err: unknown) => this.log.warn({ err, automation: name }, "could not delete an automation's state; it is replaced if the name is used again"));
    this.log.info({ automation: name, namespace }, "automation deleted");
  }

  async #withStatus(key: string): Promise<Automation | undefined> {
    const [a, s] = await Promise.all([this.read(key), this.state.read(key)]);
    return a && { ...redacted(a), status: statusOf(s) };
  }
}

function notFound(name: string): BrokerError {
  return new BrokerError(Status.NOT_FOUND, `automation ${name} not found (list them with ListAutomations or \`taskwire automation list\`)`);
}
