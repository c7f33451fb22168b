import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import type { NatsHandle, RunStore } from "@taskwire/core";
import type { Logger } from "pino";
import type { CronSchedules } from "../cron.js";
import type { QueueStat } from "../queues.js";
import type { Runs } from "../runs.js";
import { EgressPolicy } from "./egress.js";
import { AutomationEngine } from "./engine.js";
import { ActionExecutor } from "./executor.js";
import { StateStore } from "./state.js";
import { AutomationStore } from "./store.js";

export { AutomationStore } from "./store.js";
export { EgressPolicy, AddressRefused } from "./egress.js";
export { AUTOMATION_LIMITS } from "./validate.js";

export interface AutomationSettings {
  /** Match events and execute action runs in this broker (TASKWIRE_AUTOMATIONS). */
  enabled: boolean;
  /** TASKWIRE_AUTOMATION_ALLOW: CIDRs, addresses and host names webhooks may reach beyond public addresses. */
  allow: string;
  /** Action runs of each built-in task this broker executes at once (TASKWIRE_AUTOMATION_CONCURRENCY). */
  concurrency: number;
  /** Heartbeat of held action runs, in ms (TASKWIRE_HEARTBEAT_MS). */
  heartbeatMs: number;
}

/**
 * Automations in one broker: the store behind the RPCs, and — unless
 * disabled — the engine that matches run events and fires, and the
 * executor of the action runs. See docs/automations.md.
 */
export class Automations {
  readonly egress: EgressPolicy;
  readonly state: StateStore;
  readonly store: AutomationStore;
  readonly engine: AutomationEngine;
  readonly #executor: ActionExecutor;

  constructor(
    nats: NatsHandle,
    kv: { automations: KV; automationState: KV; store: RunStore; cache: KV; results: ObjectStore; limits: KV },
    runs: Runs,
    cron: CronSchedules,
    queues: { read(): Promise<QueueStat[]> },
    readonly settings: AutomationSettings,
    readonly log: Logger,
  ) {
    this.egress = new EgressPolicy(settings.allow);
    this.state = new StateStore(kv.automationState);
    // The store asks the engine for the event consumer before an automation is first stored.
    this.store = new AutomationStore(kv.automations, this.state, this.egress, { maxPayloadBytes: runs.maxPayloadBytes, retentionMs: runs.retentionMs }, log, async () => this.engine.ensureConsumer(), () => runs.ensureConnected());
    this.engine = new AutomationEngine(nats, runs, this.store, this.state, queues, log);
    this.#executor = new ActionExecutor(nats, kv, { runs, cron, store: this.store, engine: this.engine, egress: this.egress }, { heartbeatMs: settings.heartbeatMs, concurrency: settings.concurrency }, log);
  }

  async start(): Promise<void> {
    await this.store.start();
    if (!this.settings.enabled) {
      this.log.info("automations are managed here but not fired nor executed by this broker (TASKWIRE_AUTOMATIONS=false)");
      return;
    }
    await this.engine.start();
    await this.#executor.start();
  }

  async stop(): Promise<void> {
    await this.engine.stop();
    await this.#executor.stop();
    this.store.stop();
    await this.egress.close();
  }
}
