// NATS cost per run: s.costN runs submitted and executed, counted through
// nats-server's monitoring port (JetStream API requests, messages and bytes
// in and out, stream and consumer sequences), divided by s.costN.
import { INDEX_STREAM, RUNS_BUCKET_STREAM, RUNS_STREAM, taskConsumerName } from "@taskwire/core";
import { purge, submitReq } from "../runs.js";
import type { Nats } from "../servers.js";
import { CONC, type Settings, TASK } from "../settings.js";
import type { Broker, Stack } from "../stack.js";
import { closedLoop, log, roundValues, sleep, waitFor } from "../util.js";

interface JszStream {
  name: string;
  state: { messages: number; last_seq: number };
  consumer_detail?: Array<{ name: string; delivered: { consumer_seq: number }; ack_floor: { consumer_seq: number }; num_ack_pending: number; num_pending: number }>;
}

async function counters(nats: Nats): Promise<Record<string, number>> {
  const jsz = await nats.monitor<{ api: { total: number }; account_details?: Array<{ stream_detail?: JszStream[] }> }>("/jsz?accounts=true&streams=true&consumers=true");
  const varz = await nats.monitor<{ in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number }>("/varz");
  const streams = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
  const runs = streams.find((s) => s.name === RUNS_STREAM);
  const kv = streams.find((s) => s.name === RUNS_BUCKET_STREAM);
  const index = streams.find((s) => s.name === INDEX_STREAM);
  const cons = runs?.consumer_detail?.find((c) => c.name === taskConsumerName("default", TASK));
  return {
    apiTotal: jsz.api.total,
    inMsgs: varz.in_msgs,
    outMsgs: varz.out_msgs,
    inBytes: varz.in_bytes,
    outBytes: varz.out_bytes,
    runPublishes: runs?.state.last_seq ?? 0,
    kvWrites: kv?.state.last_seq ?? 0,
    indexPublishes: index?.state.last_seq ?? 0,
    delivered: cons?.delivered.consumer_seq ?? 0,
    acked: cons?.ack_floor.consumer_seq ?? 0,
  };
}

/** Per-run deltas of the counters above, a worker running. */
export async function costPerRun(s: Settings, stack: Stack, broker: Broker): Promise<Record<string, number>> {
  log(`cost: JetStream operations of ${s.costN} runs (nats-server monitoring deltas)`);
  await sleep(300);
  const before = await counters(stack.nats);
  await closedLoop(CONC, s.costN, 120_000, async () => void (await broker.client.submitRaw(submitReq)));
  // Wait through the monitoring port only, so the wait adds no NATS traffic.
  await waitFor(async () => {
    const c = await counters(stack.nats);
    return c.acked - before.acked >= s.costN;
  }, "cost runs acked", 120_000, 50);
  await sleep(300);
  const after = await counters(stack.nats);
  const per: Record<string, number> = {};
  for (const k of Object.keys(after)) per[k] = (after[k]! - before[k]!) / s.costN;
  log(`  per run: ${JSON.stringify(roundValues(per, 2))}`);
  await purge(stack.jsm);
  return per;
}
