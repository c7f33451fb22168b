import type { EnumTypeDefinition, PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { fileDescriptorProtos } from "@taskwire/protocol";

/**
 * Server reflection with complete descriptors, so `grpcurl describe` and
 * calls work: proto/'s files as `buf build` compiled them (real names,
 * their imports — google/protobuf/timestamp.proto — and comments) and
 * grpc.health.v1, embedded in @taskwire/protocol by `make generate`.
 * (Built from proto-loader, reflection answered one file per package
 * without its imports — grpcurl failed with "cannot resolve type
 * *.google.protobuf.Timestamp" — and a health descriptor whose map entry
 * Go's protobuf refuses.) Only `services` are listed.
 */
export function reflectionService(services: string[]): ReflectionService {
  // @grpc/reflection reads only `fileDescriptorProtos` of each entry.
  const files: EnumTypeDefinition = { format: "Protocol Buffer 3 EnumDescriptorProto", type: {}, fileDescriptorProtos: fileDescriptorProtos() };
  const pkg: PackageDefinition = { "taskwire.descriptors": files };
  return new ReflectionService(pkg, { services });
}
