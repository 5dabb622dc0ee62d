#!/usr/bin/env bash
# Build the local control plane (etcd, kube-apiserver, kube-controller-manager) from Go modules.
#
# The versions come from the committed wrapper modules k8s/go.mod and etcd/go.mod. Binaries go to a cache
# directory outside the repository, keyed by those versions, and are built only when that directory is
# missing: a warm call costs a few `go list` invocations. Prints the directory on stdout (last line).
#
# Environment: PORCH_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/porch-operator).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

k8s_version=$(cd "$here/k8s" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(cd "$here/etcd" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
cache_root=${PORCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/porch-operator}
out="$cache_root/controlplane/k8s-$k8s_version-etcd-$etcd_version"

if [[ -f "$out/.complete" ]]; then
  echo "$out"
  exit 0
fi

echo "Building the control plane (kubernetes $k8s_version, etcd $etcd_version) into $out;" \
     "a cold build takes 10-25 minutes." >&2
mkdir -p "$cache_root/controlplane"
# Build into a scratch directory and rename it into place, so that an interrupted build never leaves a
# directory that looks complete.
work=$(mktemp -d "$cache_root/controlplane/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT

minor=${k8s_version#v1.}; minor=${minor%%.*}
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=$now"
done
started=$(date +%s)
(cd "$here/k8s" && for c in kube-apiserver kube-controller-manager; do
  echo "go build $c" >&2
  go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags="$ldflags" -o "$work/$c" "k8s.io/kubernetes/cmd/$c"
done)
(cd "$here/etcd" && echo "go build etcd" >&2 &&
  go build -trimpath -ldflags="-s -w" -o "$work/etcd" go.etcd.io/etcd/server/v3)
"$work/kube-apiserver" --version >&2
"$work/etcd" --version | head -1 >&2
printf 'kubernetes=%s\netcd=%s\nbuild_seconds=%s\n' "$k8s_version" "$etcd_version" \
  "$(( $(date +%s) - started ))" > "$work/.complete"
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
echo "$out"
