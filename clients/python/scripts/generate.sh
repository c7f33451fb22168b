#!/usr/bin/env bash
# Regenerates clients/python/src/taskwire/v1/*_pb2*.py(i) from proto/ with the
# protoc bundled in grpcio-tools (pinned in pyproject.toml's dev extra), so
# the output is deterministic. Run from anywhere:
#   clients/python/scripts/generate.sh
# Uses clients/python/.venv (created with the dev extra if missing) unless
# $PYTHON points at an interpreter that has grpcio-tools installed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg="$(cd "$here/.." && pwd)"            # clients/python
root="$(cd "$pkg/../.." && pwd)"          # repository root
proto="$root/proto"
out="$pkg/src"
grpc_tools_version="1.85.1"               # keep equal to pyproject.toml

if [[ -z "${PYTHON:-}" ]]; then
  if [[ ! -x "$pkg/.venv/bin/python" ]]; then
    python3 -m venv "$pkg/.venv"
  fi
  PYTHON="$pkg/.venv/bin/python"
fi
if ! "$PYTHON" -c "import grpc_tools, importlib.metadata as m, sys; sys.exit(m.version('grpcio-tools') != '$grpc_tools_version')" 2>/dev/null; then
  "$PYTHON" -m pip install --quiet "grpcio-tools==$grpc_tools_version"
fi

include="$("$PYTHON" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
gen="$out/taskwire/v1"

rm -f "$gen"/*_pb2.py "$gen"/*_pb2.pyi "$gen"/*_pb2_grpc.py
mkdir -p "$gen"

cd "$proto"   # relative file names keep absolute paths out of the output
"$PYTHON" -m grpc_tools.protoc \
  -I . -I "$include" \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  taskwire/v1/types.proto taskwire/v1/taskwire.proto

# types.proto has no services; its empty *_grpc module is noise.
rm -f "$gen/types_pb2_grpc.py"

cat > "$gen/__init__.py" <<'PY'
"""Generated protobuf and gRPC modules for taskwire.v1 (scripts/generate.sh). Do not edit."""
PY
echo "generated: $(cd "$gen" && ls | tr '\n' ' ')"
