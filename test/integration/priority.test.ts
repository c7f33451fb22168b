import assert from "node:assert/strict";
import { context, task, waitAll } from "@taskwire/client";
import { uniq, startWorker } from "../helpers/env.js";
import { useStack } from "../helpers/stack.js";

describe("priorities under a backlog", function () {
  const order: string[] = [];
  const job = task(uniq("prio"), async (label: string) => {
    order.push(label);
    await new Promise((r) => setTimeout(r, 5));
    return context().attempt;
  });

  const stack = useStack({});

  it("starts high-priority runs before normal and low ones", async function () {
    // Build a backlog with no worker running: low first, then normal, then high.
    const low = await Promise.all(Array.from({ length: 6 }, (_, i) => job.using(stack.client).applyAsync([`low-${i}`], { priority: -1 })));
    const normal = await Promise.all(Array.from({ length: 6 }, (_, i) => job.using(stack.client).applyAsync([`normal-${i}`])));
    const high = await Promise.all(Array.from({ length: 6 }, (_, i) => job.using(stack.client).applyAsync([`high-${i}`], { priority: 5 })));
    const worker = await startWorker(stack.nats.url, [job], { concurrency: 1 });
    try {
      await waitAll([...low, ...normal, ...high], { timeoutMs: 30_000 });
    } finally {
      await worker.stop();
    }
    const rank = (prefix: string): number[] => order.flatMap((l, i) => (l.startsWith(prefix) ? [i] : []));
    // The worker may start one run before every level's first message has
    // arrived; after that, strictly by level.
    assert.ok(Math.max(...rank("high-")) <= 6, `high runs started at ${rank("high-").join(",")} (order ${order.join(" ")})`);
    assert.ok(Math.max(...rank("normal-")) < Math.min(...rank("low-").filter((r) => r > 1)), `order ${order.join(" ")}`);
  });
});
