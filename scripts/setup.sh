#!/usr/bin/env bash
# Installs what a fresh machine lacks: nats-server (the pinned version, into
# .tools/; scripts/install-nats-server.sh), npm packages, the Go protoc
# plugins. Idempotent and quick when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "need root for: $*" >&2; return 1; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

bash scripts/install-nats-server.sh
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "setup: $tool is required (Node >= 20)" >&2; exit 1; }
done

# npm packages: install when missing or when the lock file changed since.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${1:-}" = "--all" ]; then
  command -v go >/dev/null || { echo "setup: go is required for the Go client" >&2; exit 1; }
  command -v python3 >/dev/null || { echo "setup: python3 is required for the Python client" >&2; exit 1; }
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  # The web UI's browser tests drive Debian's headless Chromium (playwright-core
  # with executablePath; its own browser downloads are not used).
  if ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then
    echo "setup: installing chromium from Debian"
    apt_install chromium
  fi
  # curl and jq: docs/http-api.md's examples, which a test runs as written.
  command -v curl >/dev/null || apt_install curl
  command -v jq >/dev/null || apt_install jq
  bash scripts/install-tools.sh
fi
