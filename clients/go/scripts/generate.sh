#!/usr/bin/env bash
# Regenerates clients/go/gen from proto/ with the pinned plugins (buf runs
# every plugin of proto/buf.gen.yaml, so the TS code is regenerated too).
# Needs `npm install` at the repository root for buf and ts-proto.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
"$here/install-tools.sh"
cd "$repo/proto"
npx buf generate
echo "generated $repo/clients/go/gen"
