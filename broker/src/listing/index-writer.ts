import { indexSubject, type JsWire, namespaceOf } from "@taskwire/core";
import type { TaskRun } from "@taskwire/protocol";

const encoder = new TextEncoder();

/**
 * The writing side of the run index (`TASKWIRE_INDEX`): one message per
 * created run on `taskwire.idx.<namespace>.<queue>.<task>`, so ListRuns
 * reads a page, a task's runs or a namespace's without touching the other
 * runs' records (listing/scan.ts). Written by Submit alongside the record and
 * the queued message, and durable before Submit answers.
 *
 * The message id is the run id: adding a run again within the stream's
 * dedupe window (2 minutes) stores nothing, so a Submit retried with its
 * idempotency key may add its run again without listing it twice.
 */
export class IndexWriter {
  constructor(readonly wire: JsWire) {}

  /** Adds a created run; resolves once the index message is stored (or was already). */
  add(run: Pick<TaskRun, "id" | "namespace" | "queue" | "task">): Promise<unknown> {
    return this.wire.publish(indexSubject(namespaceOf(run), run.queue, run.task), encoder.encode(run.id), { msgID: run.id });
  }
}
