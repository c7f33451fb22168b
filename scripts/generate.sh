#!/usr/bin/env bash
# Regenerates every client's code from proto/: TS (ts-proto) and Go
# (protoc-gen-go, -go-grpc) through buf, Python through grpcio-tools.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh >/dev/null
(cd proto && ../.tools/bin/buf lint && ../.tools/bin/buf generate)
# The descriptors of proto/ and its imports, and of grpc.health.v1 (the
# proto file grpc-health-check serves), for the broker's server reflection
# and its JSON API (protocol/src/descriptors.ts). Two descriptor sets
# concatenated are one: `file` is a repeated field.
{
  (cd proto && ../.tools/bin/buf build --as-file-descriptor-set -o '-#format=binpb')
  .tools/bin/buf build node_modules/grpc-health-check/proto --as-file-descriptor-set -o '-#format=binpb'
} | node scripts/embed-descriptors.mjs > protocol/src/gen/descriptors.ts
bash clients/python/scripts/generate.sh
