#!/usr/bin/env bash
# Benchmark of `fl build` on a realistic 200 MB rootfs tarball (about 600 MB
# of tar, gzip -6, about 3:1), side by side with the shell pipeline and with
# decompression alone. Figures go to docs/BENCHMARKS.md.
#   bash bench/build.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${FL_BENCH_DIR:-/tmp/flbench}
mkdir -p "$work"
go build -o "$work/fl" ./cmd/fl
go build -o "$work/decompress" ./bench/decompress
go build -o "$work/buildbench" ./bench/buildbench
if [ ! -s "$work/rootfs.tar.gz" ]; then
  echo "generating $work/rootfs.tar.gz (600 MB of tar, gzip -6)..." >&2
  go run ./bench/gendata -size $((600 << 20)) | gzip -6 > "$work/rootfs.tar.gz.tmp"
  mv "$work/rootfs.tar.gz.tmp" "$work/rootfs.tar.gz"
fi
# Warm the page cache so no run pays for the disk.
cat "$work/rootfs.tar.gz" > /dev/null
"$work/buildbench" -fl "$work/fl" -decompress "$work/decompress" -data "$work/rootfs.tar.gz" -rounds "${1:-3}"
