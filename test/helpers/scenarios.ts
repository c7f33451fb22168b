// The TypeScript player of proto/conformance/scenarios.json (see the README
// beside it): the TS conformance runner (clients/ts/test/conformance.test.ts)
// and the worker conformance matrix (test/interop/workers.test.ts) play the
// scenarios with it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { type Client, EventType, RunState, Status, TaskwireError, decodeJson, type TaskRun } from "@taskwire/client";
import { SubmitRequest, SubmitOptions } from "@taskwire/protocol";
import { REPO } from "./env.js";

export type Step = Record<string, unknown> & { op: string };
export interface Scenario {
  name: string;
  steps: Step[];
  /** "auth": played against the broker with tokens and mTLS. */
  broker?: string;
  /** The token name of every step without its own. */
  token?: string;
}

/** Every scenario of proto/conformance/scenarios.json. */
export function loadScenarios(): Scenario[] {
  return (JSON.parse(readFileSync(join(REPO, "proto/conformance/scenarios.json"), "utf8")) as { scenarios: Scenario[] }).scenarios;
}

/** Whether a scenario has a run executed by a worker (it waits for one): those make the worker conformance matrix. */
export function executesRuns(s: Scenario): boolean {
  return s.broker !== "auth" && s.steps.some((st) => st.op === "wait" || st.op === "wait_state");
}

const UNIQ = randomBytes(6).toString("hex");

function subst<T>(v: T): T {
  return JSON.parse(JSON.stringify(v).replaceAll("${uniq}", UNIQ)) as T;
}

async function expectError(p: Promise<unknown>, step: Step): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TaskwireError, String(err));
    assert.equal(Status[err.code], step.expect_error, err.message);
    if (typeof step.error_contains === "string") assert.ok(err.message.toLowerCase().includes(step.error_contains.toLowerCase()), err.message);
    return true;
  });
}

function toOptions(o: Record<string, unknown> | undefined): SubmitOptions {
  return SubmitOptions.fromJSON({
    idempotencyKey: o?.idempotency_key,
    delayMs: o?.delay_ms,
    retry: o?.retry ? { maxRetries: (o.retry as Record<string, unknown>).max_retries, delaysMs: (o.retry as Record<string, unknown>).delays_ms } : undefined,
    timeoutMs: o?.timeout_ms,
  });
}

async function eventTypes(client: Client, id: string, after = ""): Promise<{ types: string[]; cursors: string[] }> {
  const types: string[] = [];
  const cursors: string[] = [];
  for await (const e of client.events({ runIds: [id], untilTerminal: true, afterCursor: after })) {
    types.push(EventType[e.type]);
    cursors.push(e.cursor);
  }
  return { types, cursors };
}

/** Plays one scenario; `clientFor` gives the client of a step's token name (undefined: the scenario's default). */
export async function play(clientFor: (token: string | undefined) => Client, s: Scenario): Promise<void> {
  const vars = new Map<string, string>();
  const id = (step: Step): string => (typeof step.run_id === "string" ? step.run_id : (vars.get(String(step.run)) ?? assert.fail(`unbound ${String(step.run)}`)));
  for (const raw of s.steps) {
    const step = subst(raw);
    // Auth scenarios name the caller per step (or once for the scenario).
    const client = clientFor(typeof step.token === "string" ? step.token : s.token);
    switch (step.op) {
      case "submit": {
        const req = SubmitRequest.fromPartial({ task: String(step.task), args: { contentType: "application/json", data: Buffer.from(JSON.stringify(step.args)) }, options: toOptions(step.options as Record<string, unknown>) });
        if (step.expect_error) await expectError(client.submitRaw(req), step);
        else vars.set(String(step.as), (await client.submitRaw(req)).run.id);
        break;
      }
      case "submit_raw": {
        const data = typeof step.data === "string" ? Buffer.from(step.data) : Buffer.from(`"${"a".repeat(Number(step.data_size) - 2)}"`);
        await expectError(client.submitRaw(SubmitRequest.fromPartial({ task: String(step.task), args: { contentType: String(step.content_type), data } })), step);
        break;
      }
      case "submit_batch": {
        const items = step.items as Array<{ task: string; args: unknown[] }>;
        const handles = await client.submitBatch(items.map((i) => ({ task: i.task, args: i.args })));
        (step.as as string[]).forEach((name, i) => vars.set(name, handles[i]?.id ?? ""));
        break;
      }
      case "get_status":
        if (step.expect_error) await expectError(client.getStatus(id(step), Number(step.wait_timeout_ms ?? 0)), step);
        else await client.getStatus(id(step));
        break;
      case "wait":
        await client.handle(id(step)).wait({ timeoutMs: Number(step.timeout_ms) });
        break;
      case "wait_state": {
        const deadline = Date.now() + Number(step.timeout_ms);
        while ((await client.getStatus(id(step))).state !== RunState[step.state as keyof typeof RunState]) {
          if (Date.now() > deadline) assert.fail(`run did not reach ${String(step.state)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        break;
      }
      case "expect_status": {
        const run: TaskRun = await client.getStatus(id(step));
        if (step.state) assert.equal(RunState[run.state], step.state);
        if ("result" in step) assert.deepEqual(decodeJson(run.result), step.result);
        if ("result_length" in step) assert.equal((decodeJson(run.result) as string).length, step.result_length);
        if (step.error_type) assert.equal(run.error?.type, step.error_type);
        if (step.error_message_contains) assert.ok(run.error?.message.toLowerCase().includes(String(step.error_message_contains).toLowerCase()));
        if ("attempt" in step) assert.equal(run.attempt, step.attempt);
        if ("attempts" in step) assert.equal(run.attempts.length, step.attempts);
        if ("namespace" in step) assert.equal(run.namespace, step.namespace);
        if ("log_messages" in step) assert.deepEqual(run.logs.map((l) => l.message), step.log_messages);
        if ("progress" in step) assert.equal(run.progress?.fraction, step.progress);
        break;
      }
      case "cancel":
        if (step.expect_error) await expectError(client.cancel(id(step)), step);
        else await client.cancel(id(step));
        break;
      case "retry":
        if (step.expect_error) await expectError(client.retry(id(step)), step);
        else await client.retry(id(step));
        break;
      case "expect_same_id": {
        const ids = (step.runs as string[]).map((n) => vars.get(n));
        assert.equal(new Set(ids).size, 1, ids.join(" vs "));
        break;
      }
      case "expect_different_id": {
        const ids = (step.runs as string[]).map((n) => vars.get(n));
        assert.equal(new Set(ids).size, ids.length, ids.join(" vs "));
        break;
      }
      case "expect_events": {
        const { types, cursors } = await eventTypes(client, id(step));
        const nums = cursors.map(Number);
        nums.forEach((n, i) => i > 0 && assert.ok(n > (nums[i - 1] ?? 0), "cursors increase"));
        if (step.exactly) assert.deepEqual(types, step.exactly);
        if (step.contains_in_order) {
          let i = 0;
          for (const t of types) if (t === (step.contains_in_order as string[])[i]) i++;
          assert.equal(i, (step.contains_in_order as string[]).length, `events ${types.join(",")}`);
        }
        break;
      }
      case "expect_resume": {
        const all = await eventTypes(client, id(step));
        const after = all.cursors[Number(step.after_index)] ?? assert.fail("no such event");
        assert.deepEqual((await eventTypes(client, id(step), after)).types, step.exactly);
        break;
      }
      case "stream_events": {
        const p = (async () => {
          for await (const e of client.events({ afterCursor: String(step.after_cursor) })) void e;
        })();
        await expectError(p, step);
        break;
      }
      case "expect_listed": {
        const page = await client.listRuns({ task: String(step.task), pageSize: 100 });
        assert.ok(page.runs.some((r) => r.id === vars.get(String(step.run))), "run listed");
        break;
      }
      case "expect_not_listed": {
        const page = await client.listRuns({ task: String(step.task), pageSize: 1000 });
        assert.ok(!page.runs.some((r) => r.id === vars.get(String(step.run))), "run not listed");
        break;
      }
      default:
        assert.fail(`unknown op ${step.op}`);
    }
  }
}
