import type { Context } from "@opentelemetry/api";
import { type Effect, encodeRunMessage, type TaskRun } from "@taskwire/protocol";
import { cancelSubject, expirySubject, type NatsHandle, priorityLevel, runSubject, scheduledSubject, traceHeaders } from "@taskwire/core";

/** The subject a run's message goes to for an effect that publishes it. */
export function effectSubject(e: Effect, run: TaskRun): string | undefined {
  switch (e.type) {
    case "enqueue":
      return runSubject(run.queue, run.task, priorityLevel(run.options?.priority ?? 0));
    case "schedule":
      return scheduledSubject(run.id);
    case "scheduleExpiry":
      return expirySubject(run.id);
    default:
      return undefined;
  }
}

/**
 * Carries out the broker's lifecycle effects on NATS: publishing a run to
 * its queue or to the scheduled stream (with the caller's trace context in
 * the headers and the effect's message id, so a repeat within JetStream's
 * dedupe window is stored once), and cancel notices. Effects that settle a
 * delivered message (ack, nak) belong to whoever holds the message.
 */
export class Publisher {
  constructor(readonly nats: NatsHandle) {}

  /**
   * Publishes `message` (an encoded RunMessage) for each publishing effect,
   * in parallel; resolves once all are stored. A run has one such effect
   * most often: its publish is then the only promise made.
   */
  publish(effects: readonly Effect[], run: TaskRun, ctx: Context, message?: Uint8Array): Promise<unknown> {
    const pending: Promise<unknown>[] = [];
    try {
      for (const e of effects) {
        const subject = effectSubject(e, run);
        if (subject && "msgId" in e) pending.push(this.#publish(subject, message ?? encodeRunMessage(run), ctx, e.msgId));
        else if (e.type === "notifyCancel") this.nats.nc.publish(cancelSubject(run.id), new TextEncoder().encode(e.reason));
      }
    } catch (err) {
      return Promise.reject(err as Error); // as from an async function: callers see a rejection, never a throw
    }
    return pending.length === 1 ? (pending[0] as Promise<unknown>) : Promise.all(pending);
  }

  #publish(subject: string, message: Uint8Array, ctx: Context, msgID: string): Promise<unknown> {
    return this.nats.wire.publish(subject, message, { msgID, headers: traceHeaders(ctx) });
  }
}
