// A client built only from proto/ with @grpc/proto-loader, as a service in
// another language would call the broker: no taskwire code involved.
import { credentials, loadPackageDefinition, type ServiceError, type Client as GrpcClient } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { join } from "node:path";
import { REPO } from "./env.js";

type Callback = (err: ServiceError | null, res: Record<string, unknown>) => void;
export type RawClient = GrpcClient & Record<string, (req: unknown, cb: Callback) => void> & {
  StreamEvents(req: unknown): NodeJS.ReadableStream & { cancel(): void };
};

export function rawClient(address: string): RawClient {
  const def = loadSync("taskwire/v1/taskwire.proto", { includeDirs: [join(REPO, "proto")], keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
  const pkg = loadPackageDefinition(def) as unknown as { taskwire: { v1: { TaskService: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => RawClient } } };
  return new pkg.taskwire.v1.TaskService(address, credentials.createInsecure());
}

export function call(c: RawClient, method: string, req: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const fn = c[method];
    if (!fn) throw new Error(`no method ${method}`);
    fn.call(c, req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

export function json(value: unknown): { content_type: string; data: Buffer } {
  return { content_type: "application/json", data: Buffer.from(JSON.stringify(value)) };
}
