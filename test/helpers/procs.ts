import { freePort, type Proc, spawnCli, waitFor } from "./env.js";

const FIXTURES = "test/fixtures/tasks.ts";

/** Starts `taskwire broker` and waits until it answers. */
export async function spawnBroker(natsUrl: string, port?: number): Promise<{ proc: Proc; address: string }> {
  const p = port ?? (await freePort());
  const proc = spawnCli(["broker", "--listen", `127.0.0.1:${p}`, "--nats", natsUrl]);
  const address = `127.0.0.1:${p}`;
  await waitFor(() => proc.output().includes("taskwire broker listening"), `broker on ${address}`, 20_000);
  return { proc, address };
}

export async function spawnWorker(natsUrl: string, extra: string[] = []): Promise<Proc> {
  const proc = spawnCli(["worker", FIXTURES, "--nats", natsUrl, "--concurrency", "4", "--heartbeat-ms", "500", ...extra]);
  await waitFor(() => proc.output().includes("taskwire worker started"), "worker start", 20_000);
  return proc;
}


/** A `taskwire worker MODULE` process (any module), ready once it logged its start. */
export async function spawnCliWorker(natsUrl: string, module: string, extra: string[] = []): Promise<Proc> {
  const proc = spawnCli(["worker", module, "--nats", natsUrl, "--heartbeat-ms", "500", ...extra]);
  await waitFor(() => proc.output().includes("taskwire worker started"), `worker for ${module}`, 20_000);
  return proc;
}
