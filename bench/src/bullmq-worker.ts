// BullMQ worker process for the comparison: same no-op job, same concurrency.
// Usage: bullmq-worker.ts <redis port> <queue name> <concurrency>
import { Worker } from "bullmq";
import { wallNow } from "./clock.js";

const [port, queue, conc] = process.argv.slice(2);
const worker = new Worker(queue!, async () => wallNow(), {
  connection: { host: "127.0.0.1", port: Number(port), maxRetriesPerRequest: null },
  concurrency: Number(conc),
  // Keep completed jobs, like taskwire keeps run records.
  removeOnComplete: { count: 1_000_000 },
});
await worker.waitUntilReady();
process.stdout.write("ready\n");
const stop = (): void => void worker.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
