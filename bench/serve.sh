#!/usr/bin/env bash
# Benchmarks of fl serve, side by side on loopback: warm GETs against a
# minimal http.ServeContent server and distribution v3, cold fan-out against
# docker-registry 2.8's pull-through proxy, redirect mode, and peak RSS.
# Needs wrk and docker-registry (apt-get install wrk docker-registry).
#   bash bench/serve.sh [WRK_DURATION [warm|cold|redirect]]   (default: 8s, all parts)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${FL_BENCH_DIR:-/tmp/flbench}
mkdir -p "$work"
go build -o "$work/fl" ./cmd/fl
go build -o "$work/servebench" ./bench/servebench
"$work/servebench" -fl "$work/fl" -d "${1:-8s}" ${2:+-only "$2"}
