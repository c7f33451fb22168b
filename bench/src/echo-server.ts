// Raw @grpc/grpc-js unary echo server, in its own process like the broker.
// Prints "port <n>" once listening.
import { join } from "node:path";
import { Server, ServerCredentials, type ServerDuplexStream, loadPackageDefinition, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const def = loadSync(join(import.meta.dirname, "echo.proto"));
const pkg = loadPackageDefinition(def) as unknown as { bench: { Echo: { service: ServiceDefinition } } };
// The broker's server options (channelz off), so the ceiling is what
// grpc-js can do at best with the same settings.
const server = new Server({ "grpc.keepalive_time_ms": 60_000, "grpc.keepalive_permit_without_calls": 1, "grpc.enable_channelz": 0 });
const impl: UntypedServiceImplementation = {
  Echo: (call: { request: unknown }, cb: (err: null, res: unknown) => void) => cb(null, call.request),
  EchoStream: (call: ServerDuplexStream<unknown, unknown>) => {
    call.on("data", (m: unknown) => call.write(m));
    call.on("end", () => call.end());
  },
};
server.addService(pkg.bench.Echo.service, impl);
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`port ${port}\n`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
