#!/usr/bin/env bash
# Build the function-pod wrapper (fnrunner/wrapper, Go) as a static binary into a cache outside the repo.
#
# The output directory is keyed by a hash of the wrapper's sources (go.mod, go.sum, *.go), so a warm call
# only hashes a few files. Prints the binary's path on stdout (last line). Used by `make wrapper`, by the
# tests (tests/fnrunner_wrapper.py) and by the benchmark.
#
# Environment: PORCH_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/porch-operator).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../fnrunner/wrapper" && pwd)
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

key=$(cd "$src" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | sort -z |
  xargs -0 sha256sum | sha256sum | cut -c1-16)
cache_root=${PORCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/porch-operator}
out="$cache_root/fnwrapper/$key"
if [[ -x "$out/fnwrapper" ]]; then
  echo "$out/fnwrapper"
  exit 0
fi
mkdir -p "$cache_root/fnwrapper"
work=$(mktemp -d "$cache_root/fnwrapper/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "Building the function-pod wrapper into $out." >&2
(cd "$src" && go build -trimpath -ldflags="-s -w" -o "$work/fnwrapper" .)
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
echo "$out/fnwrapper"
