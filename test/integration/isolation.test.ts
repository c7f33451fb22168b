import assert from "node:assert/strict";
import { EventType, RunState } from "@taskwire/client";
import * as cpu from "../fixtures/cpu-tasks.js";
import { useStack } from "../helpers/stack.js";

describe("thread isolation: a hard stop for CPU-bound tasks", function () {

  const stack = useStack({ tasks: [cpu.spin, cpu.threadAdd, cpu.inlineEcho], worker: { concurrency: 4 } });

  it("times out and terminates a CPU-bound attempt that ignores its signal, while the worker keeps serving", async function () {
    const run = await cpu.spin.using(stack.client).delay();
    // The worker's event loop stays free: an inline run completes meanwhile.
    const echo = await cpu.inlineEcho.using(stack.client).delay("still here");
    assert.equal(await echo.result({ timeoutMs: 5_000 }), "still here");
    const st = await run.wait({ timeoutMs: 15_000 });
    assert.equal(st.state, RunState.RUN_STATE_FAILED);
    assert.equal(st.error?.type, "TimeoutError");
    const took = (st.finishedAt?.getTime() ?? 0) - (st.startedAt?.getTime() ?? 0);
    assert.ok(took < 5_000, `stopped after ${took} ms`);
  });

  it("returns results, logs and progress from a thread", async function () {
    const run = await cpu.threadAdd.using(stack.client).delay(20, 22);
    assert.equal(await run.result({ timeoutMs: 10_000 }), 42);
    const types: EventType[] = [];
    for await (const e of run.events()) types.push(e.type);
    assert.ok(types.includes(EventType.EVENT_TYPE_LOG));
  });
});
