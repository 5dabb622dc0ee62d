#!/usr/bin/env bash
# Build porch-kstatus (hack/kstatus, Go: kstatus from sigs.k8s.io/cli-utils) into a cache outside the repo.
#
# The output directory is keyed by a hash of the sources (go.mod, go.sum, *.go), so a warm call only hashes a
# few files. Prints the binary's path on stdout (last line). Used by tests/e2e/packaging.
#
# Environment: PORCH_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/porch-operator).
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

key=$(cd "$src" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | sort -z |
  xargs -0 sha256sum | sha256sum | cut -c1-16)
cache_root=${PORCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/porch-operator}
out="$cache_root/kstatus/$key"
if [[ -x "$out/porch-kstatus" ]]; then
  echo "$out/porch-kstatus"
  exit 0
fi
mkdir -p "$cache_root/kstatus"
work=$(mktemp -d "$cache_root/kstatus/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "Building porch-kstatus into $out." >&2
(cd "$src" && go build -trimpath -ldflags="-s -w" -o "$work/porch-kstatus" .)
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
echo "$out/porch-kstatus"
