// gRPC health and server reflection calls, built from the protos the
// libraries ship, as grpcurl or a Kubernetes probe would make them.
import { createRequire } from "node:module";
import { credentials, loadPackageDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const require = createRequire(import.meta.url);

type HealthCtor = new (a: string, c: unknown) => { Check(r: unknown, cb: (e: Error | null, r: { status: string }) => void): void; close(): void };
type ReflectionCtor = new (a: string, c: unknown) => { ServerReflectionInfo(): NodeJS.ReadWriteStream & { end(): void }; close(): void };

export const HealthClient = {
  /** The health status of `service` ("" = the server), asked without credentials. */
  async check(address: string, service = "taskwire.v1.TaskService"): Promise<string> {
    const def = loadPackageDefinition(loadSync(require.resolve("grpc-health-check/proto/health/v1/health.proto"), { keepCase: true, enums: String })) as unknown as { grpc: { health: { v1: { Health: HealthCtor } } } };
    const h = new def.grpc.health.v1.Health(address, credentials.createInsecure());
    try {
      const res = await new Promise<{ status: string }>((resolve, reject) => h.Check({ service }, (e, r) => (e ? reject(e) : resolve(r))));
      return res.status;
    } finally {
      h.close();
    }
  },

  /** The services listed by server reflection (rejects when reflection is off). */
  async reflectedServices(address: string): Promise<string[]> {
    const rdef = loadPackageDefinition(loadSync(require.resolve("@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto"), { keepCase: true })) as unknown as { grpc: { reflection: { v1: { ServerReflection: ReflectionCtor } } } };
    const r = new rdef.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
    try {
      const stream = r.ServerReflectionInfo();
      const answer = await new Promise<{ list_services_response: { service: Array<{ name: string }> } }>((resolve, reject) => {
        stream.on("data", resolve);
        stream.on("error", reject);
        stream.write({ list_services: "" } as unknown as string);
      });
      stream.end();
      return answer.list_services_response.service.map((s) => s.name);
    } finally {
      r.close();
    }
  },
};
