// Submits 20 runs and shows which worker executed each one.
import { Client, waitAll } from "@taskwire/client";
import { resizeImage } from "./tasks.js";

export async function main(client = new Client()): Promise<Map<string, number>> {
  const images = Array.from({ length: 20 }, (_, i) => [`https://example.com/${i}.png`, 320] as [string, number]);
  const runs = await Promise.all(images.map((args) => resizeImage.using(client).delay(...args)));
  const results = await waitAll(runs, { timeoutMs: 30_000 });
  const perWorker = new Map<string, number>();
  for (const r of results) perWorker.set(r.worker, (perWorker.get(r.worker) ?? 0) + 1);
  for (const [worker, n] of perWorker) console.log(`${worker} ran ${n} runs`);
  return perWorker;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const client = new Client(); // TASKWIRE_ADDRESS, default localhost:50051
  await main(client);
  client.close();
}
