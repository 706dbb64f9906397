# fl's image for builders with network access: docker build -t fl .
# Without network access, or for a reproducible digest, use scripts/image.sh
# (docs/DEPLOY.md says which to use when).
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=devel
ARG COMMIT=unknown
ARG DATE=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/foreignlayers/fl/internal/commands.Version=${VERSION} -X github.com/foreignlayers/fl/internal/commands.Commit=${COMMIT} -X github.com/foreignlayers/fl/internal/commands.Date=${DATE}" \
      -o /out/fl ./cmd/fl \
 && mkdir -p /out/data

# distroless static: CA certificates, /etc/passwd with nonroot (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=devel
ARG COMMIT=unknown
LABEL org.opencontainers.image.source="https://github.com/foreignlayers/fl" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.title="fl"
COPY --from=build /out/fl /usr/local/bin/fl
COPY --from=build --chown=65532:65532 /out/data /var/lib/fl
USER 65532:65532
WORKDIR /var/lib/fl
VOLUME /var/lib/fl
EXPOSE 5000
ENTRYPOINT ["/usr/local/bin/fl"]
CMD ["serve", "--addr", "0.0.0.0:5000", "--data-dir", "/var/lib/fl"]
