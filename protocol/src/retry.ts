import { AttemptOutcome, type Failure, type RetryPolicy, type TaskRun } from "./gen/index.js";

/** What the engine makes of a failed attempt. */
export type RetryDecision = { retry: true; delayMs: number } | { retry: false };

function baseDelay(p: RetryPolicy, retryIndex: number): number {
  if (p.delaysMs.length > 0) return p.delaysMs[Math.min(retryIndex, p.delaysMs.length - 1)] ?? 0;
  const initial = p.initialDelayMs || 1_000;
  const mult = p.backoffMultiplier || 2;
  const max = p.maxDelayMs || 60_000;
  return Math.min(max, initial * mult ** retryIndex);
}

/**
 * Decides whether a failed attempt is retried and after how long.
 * Attempts that crashed (worker died) do not use up the policy's retries:
 * they were not the task's fault. `run.attempts` already records the
 * attempt that just failed.
 */
export function decideRetry(run: TaskRun, failure: Failure, retryAfterMs?: number, random: () => number = Math.random): RetryDecision {
  const p = run.options?.retry;
  if (!p || !failure.retryable) return { retry: false };
  if (p.neverRetryOn.includes(failure.type)) return { retry: false };
  if (p.retryOn.length > 0 && !p.retryOn.includes(failure.type)) return { retry: false };
  const failed = run.attempts.filter((a) => a.outcome === AttemptOutcome.ATTEMPT_OUTCOME_FAILED || a.outcome === AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT).length;
  if (failed > p.maxRetries) return { retry: false };
  if (retryAfterMs !== undefined) return { retry: true, delayMs: Math.max(0, retryAfterMs) };
  const base = baseDelay(p, failed - 1);
  const spread = p.jitter > 0 ? base * p.jitter * (2 * random() - 1) : 0;
  return { retry: true, delayMs: Math.max(0, Math.round(base + spread)) };
}
