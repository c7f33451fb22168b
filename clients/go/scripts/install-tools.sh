#!/usr/bin/env bash
# Installs the pinned protoc plugins for the Go client into <repo>/.tools/bin
# (used by proto/buf.gen.yaml). Idempotent: a plugin already there with the
# pinned version is left alone. Needs only Go and the Go module proxy.
#
# PROTOC_GEN_GO_VERSION must equal the google.golang.org/protobuf version in
# clients/go/go.mod (TestPinnedVersions checks it, and the generated headers).
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
bin="${TOOLS_BIN:-$repo/.tools/bin}"
mkdir -p "$bin"

# install NAME PACKAGE VERSION: skips when "$bin/NAME --version" reports VERSION.
install() {
  local name=$1 pkg=$2 version=$3 have=""
  if [[ -x "$bin/$name" ]]; then
    # protoc-gen-go prints "protoc-gen-go v1.36.12", protoc-gen-go-grpc "protoc-gen-go-grpc 1.6.2".
    have="$("$bin/$name" --version 2>/dev/null | awk '{print $2}')" || true
    [[ "$have" == v* ]] || have="v$have"
  fi
  if [[ "$have" == "$version" ]]; then
    echo "$name $version already installed in $bin"
    return
  fi
  echo "installing $name $version into $bin"
  GOBIN="$bin" go install "$pkg@$version"
}

install protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"
