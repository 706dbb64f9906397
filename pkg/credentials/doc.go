// Package credentials finds and keeps registry credentials the way
// docker, crane, skopeo and podman do: the docker config
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json) with its
// credHelpers and credsStore, podman's REGISTRY_AUTH_FILE, an explicit
// --authfile, or a USER:PASS given on the command line.
package credentials
