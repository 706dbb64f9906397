// Package e2e runs fl as a user does, as a built binary, against real
// programs on loopback: Debian's docker-registry, crane, and (in later
// suites) dockerd, containerd, podman and skopeo. .ci/run installs them and
// sets FL_E2E=require, so a missing one fails instead of skipping.
package e2e
