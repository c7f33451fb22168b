#!/usr/bin/env bash
# Vets and tests the Go client.
#
#   clients/go/scripts/test.sh [JSON_OUT]
#
# Downloads missing modules (Go module proxy only), checks gofmt, runs
# `go vet ./...` and `go test -json ./...`. The test2json stream goes to
# JSON_OUT when given (a summary is printed), else to stdout. Exits non-zero
# when formatting, vet or any test fails.
#
# The conformance suite runs only when TASKWIRE_ADDRESS points at a live
# broker with the conformance worker; otherwise it is reported as skipped.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out="${1:-}"
if [[ -n "$out" && "$out" != /* ]]; then
  out="$OLDPWD/$out" # relative to the caller's directory
fi

go mod download || exit 1

rc=0
unformatted="$(gofmt -l $(git ls-files -co --exclude-standard '*.go' 2>/dev/null || find . -name '*.go'))"
if [[ -n "$unformatted" ]]; then
  echo "gofmt needed:" >&2
  echo "$unformatted" >&2
  rc=1
fi

go vet ./... || rc=1

if [[ -n "$out" ]]; then
  mkdir -p "$(dirname "$out")"
  go test -json -count=1 ./... >"$out"
  test_rc=$?
  # Summary of the test events (package-level events have no "Test").
  for action in pass fail skip; do
    n="$(grep -c "\"Action\":\"$action\",\"Package\":\"[^\"]*\",\"Test\"" "$out" || true)"
    echo "tests $action: $n" >&2
  done
  if [[ $test_rc -ne 0 ]]; then
    grep '"Action":"fail"' "$out" | grep -o '"Test":"[^"]*"' | sed 's/^/FAILED /' >&2
    grep '"Action":"output"' "$out" | grep -o '"Output":".*"' | grep -iE 'FAIL|_test.go:[0-9]+' | head -50 >&2
  fi
else
  go test -json -count=1 ./...
  test_rc=$?
fi
[[ $test_rc -ne 0 ]] && rc=1
exit $rc
