import assert from "node:assert/strict";
import { Client, context, RunState, task, waitAll } from "@taskwire/client";
import { uniq, startBroker } from "../helpers/env.js";
import { useStack } from "../helpers/stack.js";

describe("delayed runs with two brokers", function () {
  const starts = new Map<string, number>();
  const tick = task(uniq("tick"), async () => {
    const { runId } = context();
    starts.set(runId, (starts.get(runId) ?? 0) + 1);
    return Date.now();
  });

  const stack = useStack({ brokers: 2, tasks: [tick], worker: { concurrency: 16 } });

  it("starts each due run exactly once, no earlier than due, whichever broker took it", async function () {
    const clients = stack.brokers.map((b) => new Client({ address: b.address }));
    try {
      const handles = await Promise.all(Array.from({ length: 40 }, (_, i) => tick.using(clients[i % 2] as Client).applyAsync([], { delayMs: 300 + (i % 5) * 100 })));
      const startedAt = await waitAll(handles, { timeoutMs: 20_000 });
      for (const [i, h] of handles.entries()) {
        assert.equal(starts.get(h.id), 1, `run ${h.id} started ${starts.get(h.id)} times`);
        const st = await h.status();
        assert.equal(st.state, RunState.RUN_STATE_COMPLETED);
        assert.ok((startedAt[i] as number) >= (st.scheduledAt?.getTime() ?? 0), "not before due");
      }
    } finally {
      clients.forEach((c) => c.close());
    }
  });

  it("keeps delayed runs across a restart of both brokers", async function () {
    const c = new Client({ address: stack.brokers[0]?.address });
    const h = await tick.using(c).applyAsync([], { delayMs: 1_500 });
    c.close();
    await Promise.all(stack.brokers.map((b) => b.stop()));
    stack.brokers.length = 0;
    stack.brokers.push(await startBroker(stack.nats.url));
    const c2 = new Client({ address: stack.brokers[0]?.address });
    try {
      await c2.handle(h.id).result({ timeoutMs: 20_000 });
      assert.equal(starts.get(h.id), 1);
    } finally {
      c2.close();
    }
  });
});
