// Public surface of @taskwire/protocol: the contract every taskwire process
// stands on — the code generated from proto/, the codec of what travels over
// NATS, the one Failure constructor, the retry policy and the run lifecycle.
export * from "./gen/index.js";
export { encodeRun, decodeRun, encodeRunMessage, decodeRunMessage, runMessageRecord, wrapRunMessage, withRevision, withoutRevision, encodeSubmitResponse } from "./codec.js";
export { failure, failureOf, type FailureOptions } from "./failure.js";
export { decideRetry, type RetryDecision } from "./retry.js";
export * from "./lifecycle/index.js";
export { protoDir } from "./proto-dir.js";
export { newUuidV7 } from "./ids.js";
export { fileDescriptorSet, fileDescriptorProtos, protoRegistry } from "./descriptors.js";
export { protoJsonToBinary, queryToProtoJson, ProtoJsonError } from "./json.js";
