import { RunMessage, RunState, TaskRun } from "@taskwire/client/gen";

export function encodeRun(run: TaskRun): Uint8Array {
  return TaskRun.encode(run).finish();
}

export function decodeRun(data: Uint8Array): TaskRun {
  return TaskRun.decode(data);
}

export function encodeRunMessage(run: TaskRun): Uint8Array {
  return RunMessage.encode({ run }).finish();
}

/**
 * The RunMessage for an already-encoded TaskRun — byte for byte what
 * `encodeRunMessage(run)` gives (field 1, length-delimited) — so Submit
 * encodes a run once for both its record and its message.
 */
export function wrapRunMessage(encodedRun: Uint8Array): Uint8Array {
  let n = encodedRun.length;
  let lenBytes = 1;
  for (let v = n; v >= 0x80; v >>>= 7) lenBytes++;
  const out = new Uint8Array(1 + lenBytes + n);
  out[0] = 0x0a; // field 1, wire type 2
  let i = 1;
  while (n >= 0x80) {
    out[i++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[i++] = n;
  out.set(encodedRun, i);
  return out;
}

export function decodeRunMessage(data: Uint8Array): TaskRun | undefined {
  return RunMessage.decode(data).run;
}

const TERMINAL: ReadonlySet<RunState> = new Set([
  RunState.RUN_STATE_COMPLETED,
  RunState.RUN_STATE_FAILED,
  RunState.RUN_STATE_CANCELLED,
]);

export function isTerminal(state: RunState): boolean {
  return TERMINAL.has(state);
}
