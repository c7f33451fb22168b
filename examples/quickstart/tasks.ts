// The demo worker's tasks (served by `make dev`).
import { context, task } from "@taskwire/client";

export const add = task("add", async (a: number, b: number) => a + b);

export const slowGreeting = task(
  "slow-greeting",
  async (name: string) => {
    const ctx = context();
    for (let i = 1; i <= 4; i++) {
      ctx.progress(i / 4, `step ${i} of 4`);
      await new Promise((r) => setTimeout(r, 250));
    }
    ctx.log.info(`greeted ${name}`);
    return `hello, ${name}`;
  },
  { timeoutMs: 30_000 },
);
