#!/usr/bin/env bash
# Builds the local cluster's binaries (etcd, kube-apiserver, kube-scheduler,
# kube-controller-manager, kubectl, kwok)
# from the Go module proxy into a versioned cache directory outside the repo.
# A binary already built at the pinned version is never rebuilt.
#
#   BENCHCTL_CACHE_DIR  cache root (default: ${XDG_CACHE_HOME:-~/.cache}/benchctl)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
toolchain="$repo/provision/local/toolchain"
# shellcheck source=/dev/null
source "$toolchain/versions.env"

cache="${BENCHCTL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/benchctl}"
bindir="$cache/bin"

k8s_minor=${KUBERNETES_VERSION#v1.}; k8s_minor=${k8s_minor%%.*}
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# name  wrapper-dir  module-for-version-check  version  package  ldflags  version-probe  expected
targets=(
  "etcd|etcd|go.etcd.io/etcd/server/v3|$ETCD_VERSION|go.etcd.io/etcd/server/v3|-s -w|--version|etcd Version: ${ETCD_VERSION#v}"
  "kube-apiserver|kubernetes|k8s.io/kubernetes|$KUBERNETES_VERSION|k8s.io/kubernetes/cmd/kube-apiserver|$k8s_ldflags|--version|Kubernetes $KUBERNETES_VERSION"
  "kube-scheduler|kubernetes|k8s.io/kubernetes|$KUBERNETES_VERSION|k8s.io/kubernetes/cmd/kube-scheduler|$k8s_ldflags|--version|Kubernetes $KUBERNETES_VERSION"
  "kube-controller-manager|kubernetes|k8s.io/kubernetes|$KUBERNETES_VERSION|k8s.io/kubernetes/cmd/kube-controller-manager|$k8s_ldflags|--version|Kubernetes $KUBERNETES_VERSION"
  "kubectl|kubernetes|k8s.io/kubernetes|$KUBERNETES_VERSION|k8s.io/kubernetes/cmd/kubectl|$k8s_ldflags|version --client|Client Version: $KUBERNETES_VERSION"
  "kwok|kwok|sigs.k8s.io/kwok|$KWOK_VERSION|sigs.k8s.io/kwok/cmd/kwok|-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}|--version|${KWOK_VERSION#v}"
)

# reports_version BIN PROBE EXPECTED: does "BIN PROBE" print EXPECTED?
reports_version() {
  local got
  # shellcheck disable=SC2086
  got=$("$1" $2 2>/dev/null) || return 1
  [[ "$got" == *"$3"* ]]
}

total=${#targets[@]}
i=0
start_all=$(date +%s)
for t in "${targets[@]}"; do
  i=$((i + 1))
  IFS='|' read -r name wrapper module version pkg ldflags probe expected <<<"$t"
  outdir="$bindir/$wrapper-$version"
  out="$outdir/$name"
  if [ -x "$out" ] && reports_version "$out" "$probe" "$expected"; then
    echo "[$i/$total] $name $version: already built ($out)"
    continue
  fi
  pinned=$(cd "$toolchain/$wrapper" && go list -m -f '{{.Version}}' "$module")
  if [ "$pinned" != "$version" ]; then
    echo "error: $toolchain/$wrapper/go.mod pins $module $pinned but versions.env says $version" >&2
    exit 1
  fi
  echo "[$i/$total] $name $version: building (cold builds take minutes; go build shows no progress of its own)..."
  s=$(date +%s)
  mkdir -p "$outdir"
  tmp="$out.tmp.$$"
  (cd "$toolchain/$wrapper" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg")
  mv -f "$tmp" "$out"
  if ! reports_version "$out" "$probe" "$expected"; then
    echo "error: $out $probe does not report '$expected':" >&2
    "$out" $probe >&2 || true
    exit 1
  fi
  echo "[$i/$total] $name $version: built in $(( $(date +%s) - s ))s"
done
echo "local cluster binaries ready in $bindir ($(( $(date +%s) - start_all ))s)"
