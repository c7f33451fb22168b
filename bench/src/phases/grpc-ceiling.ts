// Ceiling: a raw grpc-js unary echo (bench/src/echo-server.ts, in its own
// process like the broker) with a request of Submit's size: closed loop at
// concurrency 1 and CONC, and the open loop at Submit's rate.
import { join } from "node:path";
import { credentials, loadPackageDefinition, type Client as GrpcClient, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { SUBMIT_BYTES } from "../runs.js";
import { CONC, type Settings } from "../settings.js";
import { DEPLOYED_NODE_FLAGS } from "../stack.js";
import { BENCH, closedLoop, cpuSeconds, log, openLoop, type Pcts, pcts, round, startTsChild, waitFor } from "../util.js";

export interface EchoFigures {
  rate: number;
  lat: Pcts;
  serverCpuMsPerCall: number;
}

export interface GrpcCeiling {
  echo1: EchoFigures;
  echo64: EchoFigures;
  /** Open loop at s.openRate, Submit's generator and rate. */
  echoOpen: Pcts;
}

type EchoClient = GrpcClient & { Echo: (req: unknown, cb: (e: ServiceError | null, r: unknown) => void) => void };

export async function grpcCeiling(s: Settings): Promise<GrpcCeiling> {
  const srv = startTsChild("echo-server", join(BENCH, "src/echo-server.ts"), [], {}, [...DEPLOYED_NODE_FLAGS]);
  try {
    const port = Number(await waitFor(() => /port (\d+)/.exec(srv.output())?.[1], "echo server", 60_000, 50));
    const def = loadSync(join(BENCH, "src/echo.proto"));
    const pkg = loadPackageDefinition(def) as unknown as { bench: { Echo: new (addr: string, creds: ReturnType<typeof credentials.createInsecure>, opts: object) => EchoClient } };
    const client = new pkg.bench.Echo(`127.0.0.1:${port}`, credentials.createInsecure(), { "grpc.keepalive_time_ms": 30_000, "grpc.enable_channelz": 0 });
    const req = { data: Buffer.alloc(SUBMIT_BYTES, 1) };
    const call = (): Promise<void> => new Promise((res, rej) => client.Echo(req, (e) => (e ? rej(e) : res())));
    await closedLoop(CONC, 2_000, 5_000, call); // warm-up
    const echo = async (conc: number): Promise<EchoFigures> => {
      const lat: number[] = [];
      const cpu0 = cpuSeconds(srv.proc.pid!);
      const r = await closedLoop(conc, 10_000_000, s.closedMs, async () => {
        const t = performance.now();
        await call();
        lat.push(performance.now() - t);
      });
      return { rate: (r.done / r.ms) * 1000, lat: pcts(lat), serverCpuMsPerCall: ((cpuSeconds(srv.proc.pid!) - cpu0) * 1000) / r.done };
    };
    const echo1 = await echo(1);
    const echo64 = await echo(CONC);
    // The same open-loop generator and rate as Submit's: the latency
    // floor of one grpc-js hop (plus the generator's own timer jitter and
    // GC) on this machine.
    const ol = await openLoop(s.openRate, s.openMs, call);
    const echoOpen = pcts(ol.lat);
    log(`  grpc echo c1 ${round(echo1.rate, 0)}/s, c64 ${round(echo64.rate, 0)}/s; open loop ${s.openRate}/s p50 ${round(echoOpen.p50)} p99 ${round(echoOpen.p99)} p999 ${round(echoOpen.p999)} ms`);
    client.close();
    return { echo1, echo64, echoOpen };
  } finally {
    await srv.stop();
  }
}
