// Package testutil starts the real things fl's tests talk to, on loopback:
// an upstream HTTP server with layer files, in-process registries, and
// Debian's docker-registry. It also makes layer content of every kind.
package testutil
