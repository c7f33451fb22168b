import { AckPolicy, DeliverPolicy, JetStreamApiError } from "@nats-io/jetstream";
import type { NatsHandle } from "../connection.js";
import { type PriorityLevel, RUNS_STREAM, runSubject, taskConsumerName } from "../layout.js";
import type { ExecLog } from "./deps.js";

const nanos = (ms: number): number => ms * 1_000_000;

// Its ack_wait is 2 × the heartbeat interval: the redelivery deadline of a
// run whose worker died.
/**
 * Ensures the durable pull consumer that every worker serving `task` on
 * `queue` shares. `concurrencyLimit` > 0 becomes its max_ack_pending: the
 * server then never has more than that many runs of the task delivered and
 * unsettled across all workers, so it is a global limit that no number of
 * workers can exceed.
 */
export async function ensureTaskConsumer(nats: NatsHandle, queue: string, task: string, level: PriorityLevel, heartbeatMs: number, concurrencyLimit: number, log: ExecLog): Promise<string> {
  const name = taskConsumerName(queue, task, level);
  const config = {
    durable_name: name,
    filter_subject: runSubject(queue, task, level),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(2 * heartbeatMs),
    max_deliver: -1,
    max_ack_pending: concurrencyLimit > 0 ? concurrencyLimit : -1,
  };
  try {
    await nats.jsm.consumers.add(RUNS_STREAM, config);
  } catch (err) {
    if (!(err instanceof JetStreamApiError)) throw err;
    // It exists with another config (another worker, other heartbeat): align ack_wait.
    const info = await nats.jsm.consumers.info(RUNS_STREAM, name);
    if (info.config.ack_wait !== config.ack_wait || info.config.max_ack_pending !== config.max_ack_pending) {
      log.warn(
        { consumer: name, ackWaitMs: (info.config.ack_wait ?? 0) / 1e6, wantedMs: 2 * heartbeatMs, maxAckPending: info.config.max_ack_pending, wanted: config.max_ack_pending },
        "task consumer has another heartbeat timeout or concurrency limit; updating it to this worker's",
      );
      await nats.jsm.consumers.update(RUNS_STREAM, name, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
    }
  }
  return name;
}
