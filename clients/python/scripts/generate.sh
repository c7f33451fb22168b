#!/usr/bin/env bash
# Regenerates clients/python/src/taskwire/v1/*_pb2*.py(i) from proto/ with the
# protoc bundled in grpcio-tools (pinned in pyproject.toml's dev extra), so
# the output is deterministic. Run from anywhere:
#   clients/python/scripts/generate.sh           # rewrite src/taskwire/v1
#   clients/python/scripts/generate.sh --check   # exit 1 if it is stale
# Uses clients/python/.venv (created if missing; grpcio-tools installed into
# it) unless $PYTHON names an interpreter that has grpcio-tools installed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg="$(cd "$here/.." && pwd)"            # clients/python
root="$(cd "$pkg/../.." && pwd)"          # repository root
proto="$root/proto"
grpc_tools_version="1.85.1"               # keep equal to pyproject.toml
check=0
[[ "${1:-}" == "--check" ]] && check=1

if [[ -z "${PYTHON:-}" ]]; then
  if [[ ! -x "$pkg/.venv/bin/python" ]]; then
    python3 -m venv "$pkg/.venv"
  fi
  PYTHON="$pkg/.venv/bin/python"
fi
if ! "$PYTHON" -c "import grpc_tools, importlib.metadata as m, sys; sys.exit(m.version('grpcio-tools') != '$grpc_tools_version')" 2>/dev/null; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "grpcio-tools==$grpc_tools_version"
fi

include="$("$PYTHON" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
target="$pkg/src/taskwire/v1"
if [[ $check == 1 ]]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
else
  out="$pkg/src"
  rm -f "$target"/*_pb2.py "$target"/*_pb2.pyi "$target"/*_pb2_grpc.py
fi
gen="$out/taskwire/v1"
mkdir -p "$gen"

# Relative file names keep absolute paths out of the output.
(cd "$proto" && "$PYTHON" -m grpc_tools.protoc \
  -I . -I "$include" \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  taskwire/v1/types.proto taskwire/v1/automation.proto taskwire/v1/taskwire.proto taskwire/v1/worker.proto)

# types.proto and automation.proto have no services; their empty *_grpc modules are noise.
rm -f "$gen/types_pb2_grpc.py" "$gen/automation_pb2_grpc.py"
cat > "$gen/__init__.py" <<'PY'
"""Generated protobuf and gRPC modules for taskwire.v1 (scripts/generate.sh). Do not edit."""
PY

if [[ $check == 1 ]]; then
  if ! diff -r -x __pycache__ "$gen" "$target" >/dev/null; then
    echo "src/taskwire/v1 is stale: run clients/python/scripts/generate.sh" >&2
    diff -r -x __pycache__ "$gen" "$target" | head -20 >&2 || true
    exit 1
  fi
  echo "generated code is up to date"
else
  echo "generated: $(cd "$gen" && ls ./*.py ./*.pyi | tr '\n' ' ')"
fi
