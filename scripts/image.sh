#!/usr/bin/env bash
# Build fl's own container image with fl build, and push it to REF.
#
#   scripts/image.sh REF            e.g. scripts/image.sh registry.example/fl:v0.3.0
#
# No Dockerfile and no base image: the image is one local directory layer
# with a static fl, the CA certificates of this machine and a non-root
# user (fl, 65532). Its entrypoint is fl; its default command serves on
# 0.0.0.0:5000 with data in /var/lib/fl (mount a volume there). The same
# commit, Go toolchain and CA bundle give the same digest: the binary is
# built with -trimpath and without VCS stamping, and every time in the
# image is the commit's (SOURCE_DATE_EPOCH).
#
# Environment: FL_VERSION (default: git describe), GOARCH (default: this
# machine's), FL_CA_BUNDLE (default: /etc/ssl/certs/ca-certificates.crt),
# FL_SOURCE (the org.opencontainers.image.source label). Extra arguments
# after REF go to fl build (--insecure, for example).
# stdout: REF@sha256:... as fl build prints it.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 REF [fl build flags...]" >&2
  exit 2
fi
ref=$1
shift
cd "$(dirname "$0")/.."

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
date=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
version=${FL_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}
arch=${GOARCH:-$(go env GOARCH)}
ca=${FL_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
source_url=${FL_SOURCE:-https://github.com/foreignlayers/fl}
pkg=github.com/foreignlayers/fl/internal/commands

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
root=$work/rootfs

# A host fl to run fl build, and the image's static fl.
go build -o "$work/fl" ./cmd/fl
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/var/lib/fl" "$root/tmp"
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=false \
  -ldflags "-s -w -X $pkg.Version=$version -X $pkg.Commit=$commit -X $pkg.Date=$date" \
  -o "$root/usr/local/bin/fl" ./cmd/fl

cp "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nfl:x:65532:65532:fl:/var/lib/fl:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nfl:x:65532:\n' >"$root/etc/group"
# fl build writes every entry as root's: the data dir and /tmp are
# world-writable (sticky), so the fl user can write the volume Docker
# initializes from them; Kubernetes sets fsGroup instead.
chmod 0755 "$root" "$root/usr" "$root/usr/local" "$root/usr/local/bin" "$root/etc" "$root/etc/ssl" "$root/etc/ssl/certs" "$root/var" "$root/var/lib"
chmod 1777 "$root/var/lib/fl" "$root/tmp"
chmod 0755 "$root/usr/local/bin/fl"
chmod 0644 "$root/etc/ssl/certs/ca-certificates.crt" "$root/etc/passwd" "$root/etc/group"

# From $work, so the history records the layer as "rootfs", not a
# temporary path.
cd "$work"
SOURCE_DATE_EPOCH=$epoch ./fl build -q -t "$ref" \
  --platform "linux/$arch" \
  --layer rootfs \
  --user 65532:65532 \
  --workdir /var/lib/fl \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --entrypoint '["/usr/local/bin/fl"]' \
  --cmd '["serve","--addr","0.0.0.0:5000","--data-dir","/var/lib/fl"]' \
  --label "org.opencontainers.image.source=$source_url" \
  --label "org.opencontainers.image.revision=$commit" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.created=$date" \
  --label "org.opencontainers.image.title=fl" \
  "$@"
