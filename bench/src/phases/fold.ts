// The opt-in fold of a short attempt's start into its outcome (the
// worker's TASKWIRE_START_RECORD_DELAY_MS above 0; off by default, see
// docs/architecture.md): the same e2e burst, paced runs and drain as the
// default phases, with a worker that folds, on the same broker — what the
// option buys, next to the default in the same run.
import { Client } from "@taskwire/client";
import type { Settings } from "../settings.js";
import { type Broker, type Stack, startWorker } from "../stack.js";
import { workerDrain } from "./drain.js";
import { type E2EBurst, e2eBurst } from "./e2e.js";
import { type E2EPaced, e2ePaced } from "./paced.js";

/** The delay the phase runs the worker with, in ms: longer than a no-op run, so every start is folded. */
export const FOLD_DELAY_MS = 50;

export interface FoldFigures {
  burst: E2EBurst;
  paced: E2EPaced;
  drain: { rate: number; completed: number };
}

export async function startFold(s: Settings, stack: Stack, broker: Broker): Promise<FoldFigures> {
  const env = { TASKWIRE_START_RECORD_DELAY_MS: String(FOLD_DELAY_MS) };
  const w = await startWorker(stack, "worker-fold", 1, env);
  let burst: E2EBurst;
  let paced: E2EPaced;
  try {
    const coalescing = new Client({ address: broker.client.address });
    try {
      const pids = { broker: broker.child.proc.pid ?? 0, worker: w.proc.pid ?? 0, natsServer: stack.nats.child.proc.pid ?? 0, loadGenerator: process.pid };
      // A fresh worker: warm it up as the default phase's first (unary) burst does for its worker, then measure.
      await e2eBurst({ ...s, e2eN: Math.max(1_000, Math.round(s.e2eN / 5)) }, stack, coalescing, "warm-up, not counted", pids);
      burst = await e2eBurst(s, stack, coalescing, `default client; worker with TASKWIRE_START_RECORD_DELAY_MS=${FOLD_DELAY_MS}`, pids);
      paced = await e2ePaced(s, stack, coalescing, pids);
    } finally {
      coalescing.close();
    }
  } finally {
    await w.stop();
  }
  const drain = await workerDrain(s, stack, broker, "worker-fold-drain", env);
  return { burst, paced, drain };
}
