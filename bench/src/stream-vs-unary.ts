// An experiment, not a phase of `make bench`: what a grpc-js unary call
// costs against a message on an open bidirectional stream, one at a time at
// 1,000 per second (the paced phase's rate), between the bench's echo server
// (bench/src/echo-server.ts, in its own process) and this process. Why the
// TS client sends its Submits over SubmitStream (docs/performance.md, step
// 29).
//
//   node --conditions=taskwire-source --import tsx bench/src/stream-vs-unary.ts [seconds per case, default 8]
//
// Prints, per case and round: the client's and the server's CPU per call,
// the server's wake-ups per call, and the latency p50 / p99 from each call's
// due time.
import { join } from "node:path";
import { type ClientDuplexStream, credentials, loadPackageDefinition, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { SUBMIT_BYTES } from "./runs.js";
import { DEPLOYED_NODE_FLAGS } from "./stack.js";
import { BENCH, contextSwitches, cpuSeconds, openLoop, pcts, round, startTsChild, waitFor } from "./util.js";

const seconds = Number(process.argv[2] ?? 8);
if (!(seconds > 0 && seconds <= 60)) throw new Error(`seconds per case: 1–60, not ${process.argv[2]}`);

interface EchoClient {
  Echo(req: unknown, cb: (e: ServiceError | null) => void): void;
  EchoStream(): ClientDuplexStream<unknown, unknown>;
  close(): void;
}

const srv = startTsChild("echo-server", join(BENCH, "src/echo-server.ts"), [], {}, [...DEPLOYED_NODE_FLAGS]);
try {
  const port = Number(await waitFor(() => /port (\d+)/.exec(srv.output())?.[1], "echo server", 60_000, 50));
  const pkg = loadPackageDefinition(loadSync(join(BENCH, "src/echo.proto"))) as unknown as { bench: { Echo: new (addr: string, creds: ReturnType<typeof credentials.createInsecure>, opts: object) => EchoClient } };
  const client = new pkg.bench.Echo(`127.0.0.1:${port}`, credentials.createInsecure(), { "grpc.enable_channelz": 0 });
  const req = { data: Buffer.alloc(SUBMIT_BYTES, 1) };
  const unary = (): Promise<void> => new Promise((res, rej) => client.Echo(req, (e) => (e ? rej(e) : res())));
  const stream = client.EchoStream();
  const waiting: Array<() => void> = [];
  stream.on("data", () => waiting.shift()?.());
  const streamed = (): Promise<void> =>
    new Promise((res) => {
      waiting.push(res);
      stream.write(req);
    });
  const pid = srv.proc.pid!;
  console.log(`one call at a time, 1,000/s, ${seconds} s per case`);
  console.log("| round | case | client CPU ms/call | server CPU ms/call | server wake-ups/call | latency p50 / p99 ms |\n|---|---|---|---|---|---|");
  for (const r of [1, 2]) {
    for (const [name, call] of [["unary call", unary], ["message on an open stream", streamed]] as const) {
      await openLoop(1_000, 1_000, call); // warm-up
      const c0 = cpuSeconds(process.pid);
      const s0 = cpuSeconds(pid);
      const w0 = contextSwitches(pid).voluntary;
      const o = await openLoop(1_000, seconds * 1_000, call);
      const p = pcts(o.lat);
      console.log(`| ${r} | ${name} | ${round(((cpuSeconds(process.pid) - c0) * 1000) / o.sent, 3)} | ${round(((cpuSeconds(pid) - s0) * 1000) / o.sent, 3)} | ${round((contextSwitches(pid).voluntary - w0) / o.sent, 2)} | ${round(p.p50)} / ${round(p.p99)} |`);
    }
  }
  stream.end();
  client.close();
} finally {
  await srv.stop();
}
