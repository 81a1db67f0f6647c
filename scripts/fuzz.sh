#!/usr/bin/env bash
# Runs every go test -fuzz target for a fixed time each, one after another
# with one fuzzing worker (the machine may be measuring something else),
# and fails if any fails. A crasher is left under the package's
# testdata/fuzz/FuzzXxx/, where plain `go test` replays it from then on.
#
#   scripts/fuzz.sh            # 10s per target
#   scripts/fuzz.sh 10m        # 10 minutes per target
#   scripts/fuzz.sh 1m FuzzThreshold FuzzPortfolio   # only these targets
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

fuzztime=${1:-10s}
shift || true

# package and target, one per line.
targets=(
  "./portfolio FuzzPortfolio"
  "./deploy FuzzConfigOverlay"
  "./reports FuzzDecodeReport"
  "./reports FuzzThreshold"
  "./aggregate FuzzDecodeOTLP"
)

failed=()
ran=0
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  if (($#)) && [[ " $* " != *" $name "* ]]; then
    continue
  fi
  ran=$((ran + 1))
  echo "=== $name ($pkg, $fuzztime)"
  # -run '^$': the package's other tests are not this script's business.
  # -fuzzminimizetime 5s: minimizing each new input for the default 60s
  # would take most of the time for the targets seeded with 150-330 kB
  # reports and span files.
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s -parallel 1 "$pkg"; then
    failed+=("$name")
  fi
done
if ((ran == 0)); then
  echo "error: no fuzz target is named $*" >&2
  exit 2
fi
if ((${#failed[@]})); then
  echo "FAIL: ${failed[*]} (crashers, if any, are in the packages' testdata/fuzz/)" >&2
  exit 1
fi
echo "ok: $ran fuzz target(s), $fuzztime each"
