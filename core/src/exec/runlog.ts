import { appendLog, type LogLine, reportProgress, type Step, type TaskRun } from "@taskwire/protocol";
import type { RunStore, StoredRun } from "../store.js";
import type { ExecLog } from "./deps.js";

/** Log lines written to a run beyond this are only printed locally (they would push the run's early events out of history). */
const MAX_LOG_WRITES = 200;
/** Progress is coalesced: at most one write per this many ms. */
const PROGRESS_INTERVAL_MS = 250;

/**
 * Writes a running attempt's log lines and progress into its record, in
 * order, one revision per log line (each is an event on StreamEvents) and
 * coalesced progress. Writes are chained so the terminal write that follows
 * `flush()` comes after every line.
 */
export class RunLog {
  /** The writes in order; undefined until the first line or progress report. */
  #chain: Promise<void> | undefined;
  #writes = 0;
  #progress: { fraction: number; message: string } | undefined;
  #progressTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #known: StoredRun | undefined;

  constructor(
    readonly store: RunStore,
    readonly runId: string,
    readonly attempt: number,
    readonly log: ExecLog,
    /** Print each line to `log` too (the worker does; the broker, recording a remote worker's lines, does not). */
    readonly print = true,
    /** Awaited before the first write: a deferred start is recorded before any line (`DeferredStart.recorded`). */
    readonly before?: () => Promise<unknown>,
    /**
     * The record as the claim wrote it (content and revision): each write is
     * tried against the latest copy known here instead of reading the record
     * first; a copy that moved on meanwhile fails the compare-and-set and is
     * read again. Undefined (a deferred start, an adopted run): read first.
     */
    known?: StoredRun,
  ) {
    this.#known = known;
  }

  /** The newest copy of the record this log wrote or saw (undefined when it read none and was given none). */
  get latest(): StoredRun | undefined {
    return this.#known;
  }

  /** Chains one write (a lifecycle step: only while our attempt is the running one). */
  #enqueue(decide: (run: TaskRun) => Step): void {
    this.#chain = (this.#chain ?? Promise.resolve()).then(async () => {
      try {
        await this.before?.();
        const out = await this.store.transition(this.runId, decide, this.#known);
        this.#known = out?.stored;
      } catch (err) {
        this.log.warn({ err, runId: this.runId }, "could not record a log line or progress");
      }
    });
  }

  line(level: string, message: string): void {
    if (this.print) this.log[level === "debug" ? "debug" : level === "warn" ? "warn" : level === "error" ? "error" : "info"]({ runId: this.runId, attempt: this.attempt }, message);
    if (this.#closed || ++this.#writes > MAX_LOG_WRITES) return;
    const entry: LogLine = { time: new Date(), level, message: message.slice(0, 4096), attempt: this.attempt };
    this.#enqueue((run) => appendLog(run, { attempt: this.attempt, line: entry }, new Date()));
  }

  progress(fraction: number, message = ""): void {
    if (this.#closed) return;
    this.#progress = { fraction: Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0)), message: message.slice(0, 1024) };
    if (this.#progressTimer) return;
    this.#progressTimer = setTimeout(() => {
      this.#progressTimer = undefined;
      this.#writeProgress();
    }, PROGRESS_INTERVAL_MS);
  }

  #writeProgress(): void {
    const p = this.#progress;
    if (!p) return;
    this.#progress = undefined;
    this.#enqueue((run) => reportProgress(run, { attempt: this.attempt, progress: p }, new Date()));
  }

  /** Whether anything was written or is waiting to be (a line, or progress not written yet): only then is there something to `flush`. */
  get writing(): boolean {
    return this.#chain !== undefined || this.#progressTimer !== undefined;
  }

  /** Stops accepting lines and progress (nothing is pending: see `writing`). */
  close(): void {
    this.#closed = true;
  }

  /** Writes what is pending and stops accepting more. */
  async flush(): Promise<void> {
    if (this.#progressTimer) {
      clearTimeout(this.#progressTimer);
      this.#progressTimer = undefined;
      this.#writeProgress();
    }
    this.#closed = true;
    await this.#chain;
  }
}
