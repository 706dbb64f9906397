// Package describe reads a layer once, as a stream, and says what it is:
// its compressed digest and size (for the descriptor), the digest of its
// uncompressed tar (the config's diff_id), and its compression.
//
// It checks on the way that the decompressed stream really is a tar archive.
// Hashing and tar parsing run in their own goroutines, overlapped with
// decompression, so that describing a layer costs little more than
// decompressing it; memory stays flat whatever the layer's size.
package describe
