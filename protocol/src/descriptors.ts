import { createFileRegistry, fromBinary, toBinary, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorSet } from "@bufbuild/protobuf/wkt";
import { FILE_DESCRIPTOR_SET_BASE64 } from "./gen/descriptors.js";

let set: FileDescriptorSet | undefined;
let registry: FileRegistry | undefined;

/**
 * The descriptors of every file of proto/ and of its imports (the
 * well-known types), as `buf build` compiled them: real file names,
 * dependencies and comments. Decoded once, on first use.
 */
export function fileDescriptorSet(): FileDescriptorSet {
  set ??= fromBinary(FileDescriptorSetSchema, Buffer.from(FILE_DESCRIPTOR_SET_BASE64, "base64"));
  return set;
}

/** Each file of `fileDescriptorSet()` serialized on its own, dependencies first (what server reflection answers with). */
export function fileDescriptorProtos(): Buffer[] {
  return fileDescriptorSet().file.map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f)));
}

/**
 * A registry of every message, enum and service of proto/, for the proto3
 * JSON mapping done by @bufbuild/protobuf (`fromJson(registry.getMessage(
 * "taskwire.v1.SubmitRequest"), json)`): strict, and conformant to the
 * protobuf conformance suite.
 */
export function protoRegistry(): FileRegistry {
  registry ??= createFileRegistry(fileDescriptorSet());
  return registry;
}
