import type { ExecDeps as CoreExecDeps } from "@taskwire/core";
import type { Logger } from "pino";
import type { WorkerMetrics } from "./metrics.js";
import type { ResolvedWorkerOptions } from "./options.js";

/** What executing a run needs from its worker: core's execution deps with the worker's settings, and cancel notices. */
export interface ExecDeps extends CoreExecDeps {
  options: ResolvedWorkerOptions;
  log: Logger;
  /** Registers the abort function of a running run (for cancel notices); returns an unregister function. */
  registerAbort(runId: string, abort: (reason: string) => void): () => void;
  /** Where attempts are counted (the worker's /metrics); none: not counted. */
  metrics?: WorkerMetrics;
}
