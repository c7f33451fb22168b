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
