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
# helm (the chart's lint/template checks in test/helm). Built with the
# version stamps of the release binaries: its own version, and the Kubernetes
# version `helm template` and `helm lint` assume (1.<minor of the k8s.io/client-go
# it depends on>; without it helm assumes 1.20).
HELM_VERSION=3.21.4
HELM_KUBE_MINOR=36
helm_ok() {
  [ "$("$bin/helm" version --template '{{.Version}}' 2>/dev/null || true)" = "v$HELM_VERSION" ] &&
    [[ "$(go version -m "$bin/helm" 2>/dev/null || true)" == *"chartutil.k8sVersionMinor=$HELM_KUBE_MINOR"* ]]
}
if ! helm_ok; then
  echo "installing helm $HELM_VERSION into $bin (compiles from the Go module proxy; takes a minute once)"
  ldflags="-X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
  for pkg in chartutil lint/rules; do
    ldflags+=" -X helm.sh/helm/v3/pkg/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/$pkg.k8sVersionMinor=$HELM_KUBE_MINOR"
  done
  GOBIN="$bin" go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
fi
# grpcurl (test/e2e/grpcurl.test.ts: list, describe, call and health check
# through server reflection, as users do).
GRPCURL_VERSION=1.9.4
if [[ "$(go version -m "$bin/grpcurl" 2>/dev/null || true)" != *"github.com/fullstorydev/grpcurl"*"v$GRPCURL_VERSION"* ]]; then
  echo "installing grpcurl $GRPCURL_VERSION into $bin (compiles from the Go module proxy; takes a minute once)"
  GOBIN="$bin" go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@v$GRPCURL_VERSION"
fi
# Jaeger v2 (test/e2e/jaeger.test.ts and `taskwire dev --jaeger`): built in a
# throwaway module under .tools/ (go get -tool pins its whole dependency set
# there). This build has no UI assets; its query API (/api/traces) works.
JAEGER_VERSION=1.76.0
if [[ "$(go version -m "$bin/jaeger" 2>/dev/null || true)" != *"github.com/jaegertracing/jaeger"*"v$JAEGER_VERSION"* ]]; then
  echo "installing jaeger $JAEGER_VERSION into $bin (compiles from the Go module proxy; takes several minutes once)"
  build="$PWD/.tools/jaeger-build"
  rm -rf "$build" && mkdir -p "$build"
  (cd "$build" && go mod init taskwire-tools/jaeger >/dev/null 2>&1 &&
    go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@v$JAEGER_VERSION" &&
    go build -o "$bin/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger)
fi
