// Example 2: tasks served by workers. Start two workers (two terminals):
//
//   npx taskwire worker examples/02-workers/tasks.ts
//   npx taskwire worker examples/02-workers/tasks.ts
//
// then submit: npx tsx examples/02-workers/submit.ts
import { hostname } from "node:os";
import { task } from "@taskwire/client";

export const resizeImage = task("resize-image", async (url: string, width: number) => {
  await new Promise((r) => setTimeout(r, 20)); // pretend to work
  return { url, width, worker: `${hostname()}:${process.pid}` };
});
