// Example 1: a task called directly. Calling a task definition runs the
// function right here, in this process — no broker, no worker — exactly like
// calling a Prefect task outside a flow. Handy in tests and scripts.
//
//   npx tsx examples/01-direct-call/main.ts
import { context, task } from "@taskwire/client";

export const wordCount = task("word-count", async (text: string) => {
  const { runId, attempt } = context(); // a local context: runId "local-…", attempt 1
  const words = text.split(/\s+/).filter(Boolean).length;
  return { words, runId, attempt };
});

export async function main(): Promise<{ words: number }> {
  const out = await wordCount("the quick brown fox");
  console.log(`${out.words} words (run ${out.runId}, attempt ${out.attempt})`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
