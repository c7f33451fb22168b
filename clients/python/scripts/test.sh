#!/usr/bin/env bash
# Installs the Python client with its dev extra into clients/python/.venv
# (created if missing) and runs its tests. Usage:
#   clients/python/scripts/test.sh [JUNIT_XML]
# Set TASKWIRE_ADDRESS to also play the conformance scenarios against a live broker.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg="$(cd "$here/.." && pwd)"
junit="${1:-}"
if [[ -n "$junit" && "$junit" != /* ]]; then
  junit="$PWD/$junit"   # relative to the caller's directory
fi

venv="$pkg/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
# The distribution was called "taskwire" before it became "taskwire-client"
# (that name on PyPI is another project). A venv made before the rename has
# both owning src/taskwire's files; drop the old one first.
if "$py" -m pip show --quiet taskwire >/dev/null 2>&1; then
  "$py" -m pip uninstall --quiet --yes taskwire
fi
"$py" -m pip install --quiet --disable-pip-version-check "$pkg[dev]"

cd "$pkg"
args=(-p no:cacheprovider)
if [[ -n "$junit" ]]; then
  mkdir -p "$(dirname "$junit")"
  args+=("--junitxml=$junit")
fi
exec "$py" -m pytest "${args[@]}" tests
