#!/usr/bin/env bash
# Regenerates every client's code from proto/: TS (ts-proto) and Go
# (protoc-gen-go, -go-grpc) through buf, Python through grpcio-tools.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh >/dev/null
(cd proto && ../.tools/bin/buf lint && ../.tools/bin/buf generate)
bash clients/python/scripts/generate.sh
