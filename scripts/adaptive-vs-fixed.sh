#!/usr/bin/env bash
# Does adaptive repetitions (run --target-precision) reach the verdicts of
# a fixed 20-repetition run in less time? Runs both, back to back, on one
# local cluster with three configs (default; default-b, the same config
# under another name, an A/A pair; downstream-delay, a known slowdown),
# diffs each config against default in both runs, and prints the time each
# took and every diff row whose verdict differs.
#
#   make setup build && scripts/adaptive-vs-fixed.sh [OUT_DIR]
#
# Needs jq. TARGET (default 2%) and MAX (default 20) set the adaptive rule;
# CONFIGS (default "default default-b downstream-delay") the configs, the
# first being the baseline every other is diffed against; PORTFOLIO and
# TIER the workflows (default: scripts/testdata/adaptive-vs-fixed.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/adaptive-vs-fixed}
bin=${BENCHCTL:-bin/benchctl}
cluster=${CLUSTER:-avf}
target=${TARGET:-2%}
max=${MAX:-20}
command -v jq >/dev/null || { echo "error: jq is needed (apt-get install jq)" >&2; exit 2; }
[ -x "$bin" ] || { echo "error: $bin is missing; run 'make build'" >&2; exit 2; }
mkdir -p "$out"
printf 'config: {}\n' > "$out/default-b.yaml"
read -r -a configs <<< "${CONFIGS:-default default-b downstream-delay}"
common=(--cluster "$cluster" --nodes 3 --portfolio "${PORTFOLIO:-scripts/testdata/adaptive-vs-fixed.yaml}"
  --tier "${TIER:-default}" --calibration off)
for c in "${configs[@]}"; do
  # default-b is the A/A twin: the default config under another name.
  if [ "$c" = default-b ]; then common+=(--config "$out/default-b.yaml"); else common+=(--config "$c"); fi
done

run() { # name, extra args...
  local name=$1; shift
  local start=$SECONDS
  if [ -d "$out/$name" ]; then
    "$bin" run "${common[@]}" "$@" --output-dir "$out/$name" --resume > "$out/$name.log" 2>&1 || true
  else
    "$bin" run "${common[@]}" "$@" --output-dir "$out/$name" > "$out/$name.log" 2>&1 || true
  fi
  echo $((SECONDS - start)) > "$out/$name.seconds"
}
[ -f "$out/fixed.seconds" ] || run fixed --repetitions "$max"
[ -f "$out/adaptive.seconds" ] || run adaptive --target-precision "$target" --max-repetitions "$max"

executions() { jq '[.plan[] | select(.warmup | not)] | length' "$out/$1/run.json"; }
echo "fixed $max repetitions: $(cat "$out/fixed.seconds")s, $(executions fixed) measured executions"
echo "adaptive $target (max $max): $(cat "$out/adaptive.seconds")s, $(executions adaptive) measured executions"
base=${configs[0]}
for b in "${configs[@]:1}"; do
  for r in fixed adaptive; do
    "$bin" diff -o json "$out/$r/reports/$base.yaml" "$out/$r/reports/$b.yaml" > "$out/diff-$r-$b.json" || true
  done
  echo
  echo "== $base vs $b"
  jq -r -n --slurpfile f "$out/diff-fixed-$b.json" --slurpfile a "$out/diff-adaptive-$b.json" '
    def key: "\(.workflow)|\(.node // "")|\(.metric)";
    ($f[0].rows | map({(key): .}) | add) as $F | ($a[0].rows | map({(key): .}) | add) as $A
    | [$F | keys[] | select($A[.] != null)] as $both
    | [$both[] | select($F[.].verdict != $A[.].verdict)] as $diff
    | "rows in both: \($both | length); same verdict: \(($both | length) - ($diff | length)); different: \($diff | length)",
      "wall rows (fixed | adaptive):",
      ($both[] | select(endswith("|wall")) | "  \(.): \($F[.].verdict) p=\($F[.].p * 1000 | round / 1000) n=\($F[.].na)+\($F[.].nb) | \($A[.].verdict) p=\($A[.].p * 1000 | round / 1000) n=\($A[.].na)+\($A[.].nb)"),
      "rows whose verdict differs:",
      ($diff[] | "  \(.): \($F[.].verdict) p=\($F[.].p * 1000 | round / 1000) | \($A[.].verdict) p=\($A[.].p * 1000 | round / 1000)")'
done
echo
echo "why each workflow stopped (adaptive):"
jq -r '.workflows[] | "  \(.name): \(.stopped.reason) after \(.stopped.repetitions) repetitions, precision \(.stopped.precision)"' \
  <("$bin" report show -o json "$out/adaptive/reports/$base.yaml" 2>/dev/null || echo '{"workflows":[]}') || true
