import { readFileSync } from "node:fs";
import { type Command, InvalidArgumentError } from "commander";
import type { Client } from "@taskwire/client";
import { Automation, type AutomationAction, type AutomationTrigger, SubmitOptions, TriggerEvent } from "@taskwire/protocol";
import { table } from "./format.js";

/** A duration: plain milliseconds, or a number with ms, s, m, h or d ("500ms", "90s", "10m", "2h", "1d"). */
export function parseDuration(flag: string) {
  return (v: string): number => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
    if (!m) throw new InvalidArgumentError(`${flag}: "${v}" is not a duration; write e.g. 500ms, 30s, 10m, 2h, 1d (or plain milliseconds)`);
    const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? "ms") as "ms"];
    return Math.round(Number(m[1]) * unit);
  };
}

/** Trigger event names as the CLI takes them: "dead-lettered", "failed", "timed_out"... */
export function parseEvents(v: string): TriggerEvent[] {
  return v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const key = `TRIGGER_EVENT_${s.toUpperCase().replace(/-/g, "_").replace(/^TRIGGER_EVENT_/, "")}` as keyof typeof TriggerEvent;
      const e = TriggerEvent[key];
      if (typeof e !== "number" || e <= 0) {
        const known = Object.keys(TriggerEvent).filter((k) => k.startsWith("TRIGGER_EVENT_") && k !== "TRIGGER_EVENT_UNSPECIFIED").map((k) => k.slice(14).toLowerCase().replace(/_/g, "-"));
        throw new InvalidArgumentError(`unknown event "${s}"; use one or more of ${known.join(", ")}`);
      }
      return e;
    });
}

const pairs = (flag: string) => (v: string, prev: Record<string, string> = {}): Record<string, string> => {
  const i = v.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError(`${flag} takes key=value, got "${v}"`);
  return { ...prev, [v.slice(0, i)]: v.slice(i + 1) };
};
const many = (v: string, prev: string[] = []): string[] => [...prev, ...v.split(",").filter(Boolean)];

interface CreateOptions {
  file?: string;
  on?: TriggerEvent[];
  threshold?: number;
  window?: number;
  queueOlderThan?: number;
  runningLongerThan?: number;
  task?: string[];
  queue?: string[];
  label?: Record<string, string>;
  webhook?: string[];
  header?: Record<string, string>;
  timeout?: number;
  chat?: string[];
  chatText?: string;
  submit?: string[];
  submitQueue?: string;
  cancel?: string | boolean;
  retry?: string | boolean;
  pauseSchedule?: string | boolean;
  cooldown?: number;
  secret?: string;
  description?: string;
  paused?: boolean;
  json?: boolean;
}

/** The automation the flags describe (or --file's proto3 JSON, which the flags name and secret override). */
function automationOf(name: string, o: CreateOptions): Automation {
  if (o.file) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(o.file, "utf8"));
    } catch (err) {
      throw new InvalidArgumentError(`--file ${o.file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const a = Automation.fromJSON(json);
    return { ...a, name, secret: o.secret ?? a.secret };
  }
  const conditions = [o.threshold !== undefined, o.queueOlderThan !== undefined, o.runningLongerThan !== undefined].filter(Boolean).length;
  if (conditions > 1) throw new InvalidArgumentError("use one of --threshold, --queue-older-than and --running-longer-than");
  const events = o.on ?? [TriggerEvent.TRIGGER_EVENT_DEAD_LETTERED];
  const trigger: AutomationTrigger = { tasks: o.task ?? [], queues: o.queue ?? [], labels: o.label ?? {}, onEvent: undefined, threshold: undefined, queueAge: undefined, running: undefined };
  if (o.threshold !== undefined) {
    if (o.window === undefined) throw new InvalidArgumentError("--threshold needs --window (e.g. --threshold 5 --window 10m)");
    trigger.threshold = { events, count: o.threshold, windowMs: o.window };
  } else if (o.queueOlderThan !== undefined) trigger.queueAge = { olderThanMs: o.queueOlderThan };
  else if (o.runningLongerThan !== undefined) trigger.running = { longerThanMs: o.runningLongerThan };
  else trigger.onEvent = { events };
  const actions: AutomationAction[] = [];
  for (const url of o.webhook ?? []) actions.push({ webhook: { url, headers: o.header ?? {}, timeoutMs: o.timeout ?? 0 } });
  for (const url of o.chat ?? []) actions.push({ chat: { url, text: o.chatText ?? "", timeoutMs: o.timeout ?? 0 } });
  for (const task of o.submit ?? []) actions.push({ submit: { task, options: o.submitQueue ? SubmitOptions.fromPartial({ queue: o.submitQueue }) : undefined } });
  if (o.cancel !== undefined) actions.push({ cancelRun: { reason: typeof o.cancel === "string" ? o.cancel : "" } });
  if (o.retry !== undefined) actions.push({ retryRun: { maxAttempts: typeof o.retry === "string" ? Number(o.retry) : 0 } });
  if (o.pauseSchedule !== undefined) actions.push({ pauseSchedule: { name: typeof o.pauseSchedule === "string" ? o.pauseSchedule : "" } });
  if (actions.length === 0) throw new InvalidArgumentError("no action: add --webhook, --chat, --submit, --cancel, --retry or --pause-schedule");
  return Automation.fromPartial({ name, description: o.description ?? "", trigger, actions, cooldownMs: o.cooldown ?? 0, paused: !!o.paused, secret: o.secret ?? "" });
}

const eventNames = (es: readonly TriggerEvent[]): string => es.map((e) => (TriggerEvent[e] ?? String(e)).replace(/^TRIGGER_EVENT_/, "").toLowerCase().replace(/_/g, "-")).join(",");

/** One line about a trigger: "dead-lettered of send-email", "5 failed in 600 s", "queue older than 120 s". */
export function triggerText(t: AutomationTrigger | undefined): string {
  if (!t) return "";
  const of = [t.tasks.length ? `tasks ${t.tasks.join(",")}` : "", t.queues.length ? `queues ${t.queues.join(",")}` : "", Object.keys(t.labels).length ? `labels ${Object.entries(t.labels).map(([k, v]) => `${k}=${v}`).join(",")}` : ""].filter(Boolean).join(" ");
  const cond = t.onEvent
    ? eventNames(t.onEvent.events)
    : t.threshold
      ? `${t.threshold.count}× ${eventNames(t.threshold.events)} in ${t.threshold.windowMs / 1000} s`
      : t.queueAge
        ? `oldest waiting > ${t.queueAge.olderThanMs / 1000} s`
        : t.running
          ? `running > ${t.running.longerThanMs / 1000} s`
          : "";
  return `${cond}${of ? ` (${of})` : ""}`;
}

/** One word per action: "webhook", "chat", "submit:<task>", "cancel", "retry", "pause-schedule". */
export function actionsText(actions: readonly AutomationAction[]): string {
  return actions.map((a) => (a.webhook ? "webhook" : a.chat ? "chat" : a.submit ? `submit:${a.submit.task}` : a.cancelRun ? "cancel" : a.retryRun ? "retry" : a.pauseSchedule ? "pause-schedule" : "?")).join(",");
}

const jsonOf = (a: Automation): unknown => Automation.toJSON(a);

/** `taskwire automation create|list|get|pause|resume|delete`. */
export function addAutomationCommands(program: Command, client: () => Client): void {
  const cmd = program.command("automation").description("automations: notifications and actions on run events (docs/automations.md)");
  cmd
    .command("create")
    .description("create or replace an automation (without a condition flag: each matching event fires it)")
    .argument("<name>", "automation name (letters, digits, - and _)")
    .option("--file <json>", "the automation as proto3 JSON (as POST /v1/automations takes it)")
    .option("--on <events>", "events that fire it, comma separated: dead-lettered (default), failed, timed-out, crashed, completed, cancelled, retry-scheduled, expired, submitted, started", parseEvents)
    .option("--threshold <n>", "fire when N matching events happen within --window", (v: string) => Number(v))
    .option("--window <duration>", "the threshold's window, e.g. 10m", parseDuration("--window"))
    .option("--queue-older-than <duration>", "fire when a queue's oldest waiting run has waited this long, e.g. 2m", parseDuration("--queue-older-than"))
    .option("--running-longer-than <duration>", "fire when a run has been RUNNING this long, e.g. 15m", parseDuration("--running-longer-than"))
    .option("--task <names>", "only runs of these tasks (repeatable, comma separated)", many)
    .option("--queue <names>", "only runs of these queues (repeatable, comma separated)", many)
    .option("--label <key=value>", "only runs with this label (repeatable)", pairs("--label"))
    .option("--webhook <url>", "POST the signed firing to this URL (repeatable)", (v: string, p: string[] = []) => [...p, v])
    .option("--header <key=value>", "extra webhook header (repeatable)", pairs("--header"))
    .option("--timeout <duration>", "webhook and chat request timeout (default 10s)", parseDuration("--timeout"))
    .option("--chat <url>", "post {text} to a Slack-compatible incoming webhook (repeatable)", (v: string, p: string[] = []) => [...p, v])
    .option("--chat-text <text>", "put before the chat message's summary, e.g. ':rotating_light: @oncall'")
    .option("--submit <task>", "submit a run of TASK with the firing as its argument (repeatable)", (v: string, p: string[] = []) => [...p, v])
    .option("--submit-queue <name>", "queue of the --submit runs")
    .option("--cancel [reason]", "cancel the run")
    .option("--retry [max-attempts]", "retry the run (if FAILED or CANCELLED, up to max-attempts attempts, default 3)")
    .option("--pause-schedule [name]", "pause the schedule NAME (default: the schedule that submitted the run)")
    .option("--cooldown <duration>", "after firing, do not fire again for this long, e.g. 10m (default 0: every match)", parseDuration("--cooldown"))
    .option("--secret <secret>", "webhook signing secret, 16–256 characters (default: generated and printed once)")
    .option("--description <text>", "free text")
    .option("--paused", "create it paused")
    .option("--json", "print JSON")
    .action(async (name: string, o: CreateOptions) => {
      const c = client();
      try {
        const { automation: a, secret } = await c.createAutomation(automationOf(name, o));
        if (o.json) console.log(JSON.stringify({ automation: jsonOf(a), secret }, null, 2));
        else {
          console.log(`automation ${a.name}: ${triggerText(a.trigger)} → ${actionsText(a.actions)}${a.cooldownMs ? `, cool-down ${a.cooldownMs / 1000} s` : ""}${a.paused ? " (paused)" : ""}`);
          if (secret) console.log(`webhook signing secret (shown once): ${secret}`);
        }
      } finally {
        c.close();
      }
    });
  cmd
    .command("list")
    .description("list automations")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) => {
      const c = client();
      try {
        const all = await c.listAutomations();
        if (o.json) console.log(JSON.stringify(all.map(jsonOf), null, 2));
        else {
          const rows = all.map((a) => [a.name, a.paused ? "paused" : a.status?.lastError ? "failing" : "active", triggerText(a.trigger), actionsText(a.actions), String(a.status?.fired ?? 0), a.status?.lastFiredAt?.toISOString() ?? "-", a.status?.lastError || "-"]);
          console.log(table([["NAME", "STATUS", "TRIGGER", "ACTIONS", "FIRED", "LAST FIRED", "LAST ERROR"], ...rows]));
        }
      } finally {
        c.close();
      }
    });
  cmd
    .command("get")
    .description("show an automation and its recent firings")
    .argument("<name>")
    .option("--json", "print JSON")
    .action(async (name: string, o: { json?: boolean }) => {
      const c = client();
      try {
        const a = await c.getAutomation(name);
        if (o.json) console.log(JSON.stringify(jsonOf(a), null, 2));
        else {
          const s = a.status;
          console.log(`automation ${a.name}${a.paused ? " (paused)" : ""}: ${triggerText(a.trigger)} → ${actionsText(a.actions)}; cool-down ${a.cooldownMs / 1000} s`);
          console.log(`fired ${s?.fired ?? 0}, suppressed by the cool-down ${s?.suppressed ?? 0}${s?.lastError ? `; last error ${s.lastErrorAt?.toISOString() ?? ""}: ${s.lastError}` : ""}`);
          if (s?.recent.length) console.log(table([["TIME", "RUN", "SUMMARY", "ACTION RUNS"], ...s.recent.map((f) => [f.time?.toISOString() ?? "", f.runId || "-", f.summary.slice(0, 100), f.actionRunIds.map((id) => id || "(not submitted)").join(",")])]));
        }
      } finally {
        c.close();
      }
    });
  for (const [name, paused] of [["pause", true], ["resume", false]] as const) {
    cmd
      .command(name)
      .description(`${name} an automation`)
      .argument("<name>")
      .action(async (n: string) => {
        const c = client();
        try {
          const a = await c.pauseAutomation(n, paused);
          console.log(`automation ${a.name} ${a.paused ? "paused" : "resumed"}`);
        } finally {
          c.close();
        }
      });
  }
  cmd
    .command("delete")
    .description("delete an automation (action runs it submitted go on)")
    .argument("<name>")
    .action(async (n: string) => {
      const c = client();
      try {
        await c.deleteAutomation(n);
        console.log(`automation ${n} deleted`);
      } finally {
        c.close();
      }
    });
}
