#!/usr/bin/env bash
# fl serve under hostile load, side by side in one run, on loopback:
# peak RSS under 100 concurrent 4 MiB manifest PUTs then GETs (beside
# distribution v3 alone), and the latency of good credentials while 32
# connections send bad ones (beside the same client alone). Prints
# markdown for docs/BENCHMARKS.md. Nothing to install.
#   bash bench/limits.sh [limitsbench flags: -only memory|auth, -auth-d 10s, ...]
# fl is built from this tree; FL_REV=REV builds it from that commit
# instead (git archive), FL=PATH measures that binary.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${FL_BENCH_DIR:-/tmp/flbench}
mkdir -p "$work"
if [ -n "${FL:-}" ]; then
  fl=$FL
  label="binary $FL"
elif [ -n "${FL_REV:-}" ]; then
  rev=$(git rev-parse --short "$FL_REV")
  src="$work/fl-src-$rev"
  rm -rf "$src" && mkdir -p "$src"
  git archive "$rev" | tar -x -C "$src"
  (cd "$src" && go build -o "$work/fl-$rev" ./cmd/fl)
  rm -rf "$src"
  fl="$work/fl-$rev"
  label="commit $rev"
else
  go build -o "$work/fl" ./cmd/fl
  fl="$work/fl"
  label="commit $(git rev-parse --short HEAD)"
  if [ -n "$(git status --porcelain)" ]; then label="$label (with uncommitted changes)"; fi
fi
go build -o "$work/limitsbench" ./bench/limitsbench
"$work/limitsbench" -fl "$fl" -label "$label" "$@"
