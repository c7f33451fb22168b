// Tasks the cross-language conformance suite relies on (proto/conformance/README.md).
import { context, NonRetryableError, task } from "@taskwire/client";

export const echo = task("cf-echo", async (x: unknown) => x);
export const add = task("cf-add", async (a: number, b: number) => a + b);
export const unicode = task("cf-unicode", async (s: string) => `${s} ✓`);
export const fail = task("cf-fail", async (msg: string): Promise<never> => {
  throw new NonRetryableError(msg, { type: "ConformanceError" });
});
export const flaky = task("cf-flaky", async (n: number) => {
  const { attempt } = context();
  if (attempt <= n) throw Object.assign(new Error(`attempt ${attempt} fails on purpose`), { name: "FlakyError" });
  return attempt;
});
export const sleep = task("cf-sleep", async (ms: number) => {
  const { signal } = context();
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
  return ms;
});
export const large = task("cf-large", async (n: number) => "x".repeat(n));
export const logLines = task("cf-log", async (n: number) => {
  const { log, progress } = context();
  for (let i = 0; i < n; i++) {
    log.info(`line ${i}`);
    progress((i + 1) / n, `${i + 1} of ${n}`);
  }
  return n;
});
// Busy, never looks at its signal: only a hard stop ends it early (a worker
// thread, terminated when the abort is not obeyed).
export const spin = task(
  "cf-spin",
  (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      // spin
    }
    return ms;
  },
  { isolation: "thread" },
);
