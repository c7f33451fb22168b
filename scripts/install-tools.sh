#!/usr/bin/env bash
# Installs the pinned code-generation tools into .tools/bin through the Go
# module proxy: buf (lint + generate) and the Go protoc plugins. (buf's npm
# package cannot be locked here: its other-platform binaries are not on the
# registry this project installs from, so `npm ci` would refuse the lock.)
set -euo pipefail
cd "$(dirname "$0")/.."
BUF_VERSION=1.75.0
bin="$PWD/.tools/bin"
mkdir -p "$bin"
if [ "$("$bin/buf" --version 2>/dev/null || true)" != "$BUF_VERSION" ]; then
  echo "installing buf $BUF_VERSION into $bin (compiles from the Go module proxy; takes a few minutes once)"
  GOBIN="$bin" go install "github.com/bufbuild/buf/cmd/buf@v$BUF_VERSION"
fi
bash clients/go/scripts/install-tools.sh
# helm (the chart's lint/template checks in test/helm). Built with its version
# stamped in, as the release binaries are, so `helm version` reports it.
HELM_VERSION=3.21.4
if [ "$("$bin/helm" version --template '{{.Version}}' 2>/dev/null || true)" != "v$HELM_VERSION" ]; then
  echo "installing helm $HELM_VERSION into $bin (compiles from the Go module proxy; takes a minute once)"
  GOBIN="$bin" go install -ldflags "-X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
fi
