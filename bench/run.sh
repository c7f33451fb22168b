#!/usr/bin/env bash
# taskwire benchmark suite: `make bench` (full, < 10 min) / `make bench-quick` (< 2 min).
# Installs what is missing (the pinned nats-server through scripts/setup.sh,
# redis-server from Debian; node_modules),
# then runs bench/src/main.ts, which starts and stops every server itself.
# Extra flags are passed on: --quick, --profile (CPU profiles of broker and
# worker under bench/results/profiles/), --skip-bullmq, --listing-only,
# --only=<phases> (comma-separated, e.g. --only=scale,multi: just those
# phases, written to bench/results/only-<mode>.json; the names are PHASES in
# bench/src/main.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
apt_updated=""
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "bench: $1 is missing and apt-get is not available; install $1 and retry" >&2
    exit 1
  fi
  if [ -z "$apt_updated" ]; then $SUDO apt-get update; apt_updated=1; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "$1"
}

command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || apt_install redis-server
# The pinned nats-server (docs/nats-server.md), unless TASKWIRE_NATS_SERVER is set.
bash scripts/install-nats-server.sh
export TASKWIRE_NATS_SERVER="${TASKWIRE_NATS_SERVER:-$PWD/.tools/bin/nats-server}"
# Debian's redis-server package starts a system service; the bench uses its
# own instance on a free port, so that service is left alone.
export PATH="$PATH:/usr/sbin"

[ -d node_modules/bullmq ] && [ -d node_modules/tsx ] || npm ci
# The broker and worker run from the compiled packages (dist/), as they are
# deployed; the build is incremental (seconds when nothing changed).
npm run --silent build

# The Python and Go workers of the "workers by language" phase (skipped, with
# the reason, when python3 or go is missing).
if command -v python3 >/dev/null; then
  [ -x clients/python/.venv/bin/python ] || python3 -m venv clients/python/.venv
  clients/python/.venv/bin/pip install --quiet --disable-pip-version-check ./clients/python
fi
if command -v go >/dev/null; then
  (cd clients/go && go build -o ../../.taskwire/bin/bench-worker-go ./examples/bench-worker)
fi

exec node --conditions=taskwire-source --import tsx bench/src/main.ts "$@"
