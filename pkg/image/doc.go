// Package image is fl's model of what it builds: layers that are either
// foreign (bytes at URLs) or ordinary blobs, manifests with their configs,
// and an optional index over several platforms. It chooses media types for
// the Docker and OCI formats and serialises manifests; it does no I/O
// beyond what a layer's blob opener does.
package image
