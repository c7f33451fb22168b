import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/** True when a KV compare-and-set lost: someone wrote the key since we read it. */
export function isWrongLastSequence(err: unknown): boolean {
  if (err instanceof JetStreamApiError) {
    return (
      err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown
    );
  }
  return err instanceof Error && /wrong last sequence/i.test(err.message);
}
