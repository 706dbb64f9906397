#!/usr/bin/env bash
# A self-contained demo of `fl build`: make a small root filesystem tarball,
# publish it with a SHA256SUMS on a local web server (standing in for a
# distribution's download site), build an image whose layer is that URL,
# and inspect the result. Everything stays on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/fl" ./cmd/fl

mkdir -p "$work/site" "$work/rootfs/etc"
echo 'ID=fl-demo' > "$work/rootfs/etc/os-release"
tar -C "$work/rootfs" -czf "$work/site/rootfs.tar.gz" .
(cd "$work/site" && sha256sum rootfs.tar.gz > SHA256SUMS)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/site" >/dev/null 2>&1 &
for _ in $(seq 50); do curl -sf "http://localhost:$port/SHA256SUMS" >/dev/null && break; sleep 0.1; done

echo "# fl build: one foreign layer, checked against the site's SHA256SUMS" >&2
"$work/fl" build --format oci --output "oci-layout:$work/image:demo" \
  --layer "http://localhost:$port/rootfs.tar.gz" \
  --checksums "http://localhost:$port/SHA256SUMS" \
  --cmd /bin/sh
echo "# fl inspect: the layer stays at its URL" >&2
"$work/fl" inspect "oci-layout:$work/image:demo"
