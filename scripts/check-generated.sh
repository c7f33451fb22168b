#!/usr/bin/env bash
# Fails when the committed generated code differs from a fresh generation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/generate.sh
paths=(protocol/src/gen clients/go/gen clients/python/src/taskwire/v1)
if ! git diff --quiet -- "${paths[@]}" || [ -n "$(git ls-files --others --exclude-standard -- "${paths[@]}")" ]; then
  echo "generated code is out of date: run 'make generate' and commit the result" >&2
  git --no-pager diff --stat -- "${paths[@]}" >&2
  exit 1
fi
echo "generated code is up to date"
