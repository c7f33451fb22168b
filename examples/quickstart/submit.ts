// Quick start: submit a run from a service that does not import the task's
// code, wait for its result, and print its events. Run after `make dev`:
//
//   npx tsx examples/quickstart/submit.ts
import { Client, EventType } from "@taskwire/client";

export async function main(client: Client): Promise<number> {
  const run = await client.submit<number>("add", [2, 3]); // returns at once
  console.log("submitted", run.id);
  const sum = await run.result({ timeoutMs: 10_000 });
  console.log("result", sum);
  for await (const e of run.events()) console.log(EventType[e.type], e.cursor);
  return sum;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const client = new Client(); // TASKWIRE_ADDRESS or localhost:50051
  await main(client);
  client.close();
}
