#!/usr/bin/env bash
# Regenerates every client's code from proto/: TS (ts-proto) and Go
# (protoc-gen-go, -go-grpc) through buf, Python through grpcio-tools.
set -euo pipefail
cd "$(dirname "$0")/.."
bash clients/go/scripts/install-tools.sh >/dev/null
(cd proto && npx --no-install buf lint && npx --no-install buf generate)
bash clients/python/scripts/generate.sh
