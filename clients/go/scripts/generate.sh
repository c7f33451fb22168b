#!/usr/bin/env bash
# Regenerates clients/go/gen from proto/ with the pinned plugins (buf runs
# every plugin of proto/buf.gen.yaml, so the TS code is regenerated too).
# Needs `npm install` at the repository root (ts-proto) and scripts/install-tools.sh (buf).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
"$here/install-tools.sh"
cd "$repo/proto"
../.tools/bin/buf generate
echo "generated $repo/clients/go/gen"
