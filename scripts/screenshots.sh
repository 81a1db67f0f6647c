#!/usr/bin/env bash
# Remakes the README's pictures (docs/img/*.png) from a real run: the
# pages of RUN_DIR (default: a new smoke run of two configs on the local
# cluster, so that there is a diff) drawn in headless Chromium by the
# browser test. Needs chromium (Debian: apt-get install chromium).
#
#   scripts/screenshots.sh            # a new run, then the pictures
#   scripts/screenshots.sh RUN_DIR    # the pictures of an existing run
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

run=${1:-}
if [ -z "$run" ]; then
  make build
  run=$(mktemp -d)/run
  bin/benchctl run --tier smoke --config default --config streak-1 --output-dir "$run"
fi
mkdir -p docs/img
BENCHCTL_REQUIRE_BROWSER=1 BENCHCTL_PAGE_RUN="$run" BENCHCTL_SCREENSHOTS="$PWD/docs/img" \
  go test -count=1 -run '^TestPageInBrowser$' ./reports/page/
echo "pictures of $run in docs/img"
