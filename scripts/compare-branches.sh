#!/usr/bin/env bash
# Compare the controller of two git refs of this repository on a local
# cluster and print the diff as Markdown (for a pull-request comment).
#
#   scripts/compare-branches.sh BASE HEAD [benchctl compare flags...]
#
# Examples:
#   scripts/compare-branches.sh origin/main HEAD
#   scripts/compare-branches.sh origin/main HEAD --tier smoke --fail-on 'wall>+10%'
#
# Writes into $OUT (default ./benchctl-compare): diff.md, junit.xml and the
# run directory with both reports. The exit code is benchctl's: 0 HEAD is
# the same or better, 1 a significant regression beyond a --fail-on
# threshold (or an invalid run), 2 bad usage.
set -euo pipefail

if [ $# -lt 2 ]; then
  sed -n '2,15p' "$0" >&2
  exit 2
fi
base=$1 head=$2
shift 2

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$PWD/benchctl-compare}
mkdir -p "$out"

# Both refs must exist here; CI checkouts are often shallow.
for ref in "$base" "$head"; do
  if ! git -C "$repo" rev-parse --verify --quiet "$ref^{commit}" >/dev/null; then
    echo "error: $ref is not a commit of $repo (fetch it, e.g. git fetch --unshallow origin)" >&2
    exit 2
  fi
done

make -C "$repo" --no-print-directory setup build >&2
status=0
(cd "$repo" && ./bin/benchctl compare "$base" "$head" \
  --output-dir "$out/run" --markdown "$out/diff.md" --junit "$out/junit.xml" "$@") || status=$?
if [ -f "$out/diff.md" ]; then
  cat "$out/diff.md"
fi
exit $status
