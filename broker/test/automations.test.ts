import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { AttemptOutcome, EventType, RunState, TaskRun, TriggerEvent } from "@taskwire/protocol";
import { AddressRefused, EgressPolicy } from "../src/automations/egress.js";
import { type Firing, triggerEventsOf } from "../src/automations/firing.js";
import { confirmFirings, decideCondition, decideEvents, type DecisionEvent, MAX_PENDING } from "../src/automations/state.js";

const firing = (id: string, t: number): Firing => ({ automation: "a", namespace: "default", id, time: new Date(t).toISOString(), trigger: "event", summary: id });
const ev = (seq: number, t: number): DecisionEvent => ({ seq, t, firing: firing(`automation:a:r${seq}:${seq}`, t) });

describe("automations: decisions (pure)", function () {
  it("a cool-down lets one event of a storm fire and counts the rest as suppressed, out of order too", function () {
    const events = Array.from({ length: 1000 }, (_, i) => ev(i + 1, 1_000 + (i % 2 === 0 ? i : 1000 - i)));
    const d = decideEvents(undefined, events, { cooldownMs: 60_000 }, 0);
    assert.equal(d.fires.length, 1);
    assert.equal(d.next?.suppressed, 999);
    // A second broker's batch of older events, after the first fired: still within the cool-down.
    const again = decideEvents(d.next, [ev(5000, 900)], { cooldownMs: 60_000 }, 0);
    assert.equal(again.fires.length, 0);
    // Redelivered: the firing is known, nothing changes.
    assert.equal(decideEvents(d.next, [events[0] as DecisionEvent], { cooldownMs: 60_000 }, 0).next, undefined);
  });

  it("a threshold fires on the count-th event within the window, once per cool-down, and ignores redelivered events", function () {
    const rule = { cooldownMs: 10_000, threshold: { count: 3, windowMs: 1_000 } };
    let d = decideEvents(undefined, [ev(1, 0), ev(2, 2_000), ev(3, 2_500)], rule, 0);
    assert.equal(d.fires.length, 0, "the first event aged out of the window");
    assert.equal(decideEvents(d.next, [ev(3, 2_500)], rule, 0).next, undefined, "a counted event is counted once");
    d = decideEvents(d.next, [ev(4, 2_900)], rule, 0);
    assert.equal(d.fires.length, 1);
    assert.equal(d.fires[0]?.firing.count, 3);
    assert.equal(decideEvents(d.next, [ev(5, 3_000), ev(6, 3_100), ev(7, 3_200)], rule, 0).fires.length, 0, "cool-down");
    assert.equal(decideEvents(d.next, [ev(8, 13_000), ev(9, 13_100), ev(10, 13_200)], rule, 0).fires.length, 1, "after the cool-down");
  });

  it("firings stay pending until confirmed; a state keeps a bounded number of them", function () {
    const d = decideEvents(undefined, Array.from({ length: MAX_PENDING + 3 }, (_, i) => ev(i + 1, i)), { cooldownMs: 0, threshold: { count: 1, windowMs: 1_000 } }, 0);
    assert.equal(d.next?.pending.length, MAX_PENDING);
    assert.match(d.next?.lastError ?? "", /dropped/);
    const first = d.next?.pending[0];
    assert.ok(first);
    const c = confirmFirings(d.next, [{ firing: first.firing, actionRunIds: ["x"] }], 0);
    assert.equal(c.pending.length, MAX_PENDING - 1);
    assert.equal(c.recent[0]?.id, first.id);
  });

  it("a condition fires when it starts to hold, again after each cool-down, and not while cooling", function () {
    const f = (seq: number): Firing => firing(`q${seq}`, 0);
    let s = decideCondition(undefined, true, 0, 60_000, f);
    assert.equal(s.fires.length, 1);
    assert.equal(decideCondition(s.next, true, 30_000, 60_000, f).next, undefined);
    s = decideCondition(s.next, true, 61_000, 60_000, f);
    assert.equal(s.fires[0]?.id, "q2");
    const cleared = decideCondition(s.next, false, 62_000, 60_000, f);
    assert.equal(cleared.next?.active, false);
    const flapped = decideCondition(cleared.next, true, 63_000, 60_000, f);
    assert.equal(flapped.fires.length, 0, "a condition that comes back within the cool-down does not fire");
    assert.equal(flapped.next?.suppressed, 1);
    assert.equal(decideCondition(undefined, true, 0, 0, f).fires.length, 1);
  });

  it("names trigger events: dead letters, failed attempts, timeouts", function () {
    const run = (lastEvent: EventType, state: RunState, outcome?: AttemptOutcome): TaskRun =>
      TaskRun.fromPartial({ lastEvent, state, attempts: outcome ? [{ number: 1, outcome }] : [] });
    assert.deepEqual(triggerEventsOf(run(EventType.EVENT_TYPE_FAILED, RunState.RUN_STATE_FAILED, AttemptOutcome.ATTEMPT_OUTCOME_FAILED)), [TriggerEvent.TRIGGER_EVENT_FAILED, TriggerEvent.TRIGGER_EVENT_DEAD_LETTERED]);
    assert.deepEqual(triggerEventsOf(run(EventType.EVENT_TYPE_FAILED, RunState.RUN_STATE_FAILED)), [TriggerEvent.TRIGGER_EVENT_DEAD_LETTERED], "a dependency failed: no attempt failed");
    assert.deepEqual(triggerEventsOf(run(EventType.EVENT_TYPE_RETRY_SCHEDULED, RunState.RUN_STATE_AWAITING_RETRY, AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT)), [TriggerEvent.TRIGGER_EVENT_RETRY_SCHEDULED, TriggerEvent.TRIGGER_EVENT_FAILED, TriggerEvent.TRIGGER_EVENT_TIMED_OUT]);
    assert.deepEqual(triggerEventsOf(run(EventType.EVENT_TYPE_TIMED_OUT, RunState.RUN_STATE_FAILED)), [TriggerEvent.TRIGGER_EVENT_TIMED_OUT, TriggerEvent.TRIGGER_EVENT_FAILED, TriggerEvent.TRIGGER_EVENT_DEAD_LETTERED]);
    assert.deepEqual(triggerEventsOf(run(EventType.EVENT_TYPE_CACHED, RunState.RUN_STATE_COMPLETED)), [TriggerEvent.TRIGGER_EVENT_COMPLETED]);
    assert.deepEqual(triggerEventsOf(run(EventType.EVENT_TYPE_LOG, RunState.RUN_STATE_RUNNING)), []);
  });
});

describe("automations: the egress policy", function () {
  it("refuses special ranges unless listed, by address, CIDR or host name", async function () {
    const p = new EgressPolicy("");
    assert.equal(p.refusal("93.184.216.34", "example.com"), undefined, "public unicast");
    for (const [a, range] of [["127.0.0.1", "loopback"], ["::1", "loopback"], ["169.254.169.254", "linkLocal"], ["10.0.0.1", "private"], ["192.168.1.1", "private"], ["100.64.0.1", "carrierGradeNat"], ["fd00::1", "uniqueLocal"], ["0.0.0.0", "unspecified"], ["::ffff:10.0.0.1", "private"], ["224.0.0.1", "multicast"]]) {
      assert.match(p.refusal(a as string, "h") ?? "", new RegExp(`is a ${range} address`), a);
    }
    const allow = new EgressPolicy("127.0.0.1, 10.0.0.0/8, hooks.internal, *.corp.example");
    assert.equal(allow.refusal("127.0.0.1", "127.0.0.1"), undefined);
    assert.equal(allow.refusal("10.2.3.4", "x"), undefined);
    assert.ok(allow.refusal("127.0.0.2", "x"));
    assert.equal(allow.refusal("192.168.0.1", "hooks.internal"), undefined);
    assert.equal(allow.refusal("192.168.0.1", "a.corp.example"), undefined);
    assert.throws(() => new EgressPolicy("not a cidr/99"), /TASKWIRE_AUTOMATION_ALLOW: "not a cidr\/99" is not a CIDR/);
    await p.close();
    await allow.close();
  });

  it("checks the addresses a name resolves to when it connects (DNS rebinding), and IP literals before", async function () {
    const server = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    const deny = new EgressPolicy("");
    const allow = new EgressPolicy("127.0.0.1");
    try {
      // "localhost" passes no check by name: its resolved address is refused at connect time.
      await assert.rejects(deny.post(`http://localhost:${port}/`, {}, "{}", 2_000), (e: unknown) => e instanceof AddressRefused || (e instanceof Error && e.cause instanceof AddressRefused) || /loopback/.test(String((e as Error).message)));
      await assert.rejects(deny.post(`http://127.0.0.1:${port}/`, {}, "{}", 2_000), AddressRefused);
      const ok = await allow.post(`http://127.0.0.1:${port}/`, {}, "{}", 2_000);
      assert.equal(ok.status, 200);
      assert.equal(ok.text, "ok");
    } finally {
      await deny.close();
      await allow.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
