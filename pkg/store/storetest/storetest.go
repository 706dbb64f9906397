// Package storetest is the suite every store.Index and store.Cache
// implementation must pass, as distribution's storage driver testsuites:
// an implementation joins it with a constructor, it does not get a suite
// of its own.
//
//	func TestMyIndex(t *testing.T) { storetest.TestIndex(t, newMyIndex) }
//	func TestMyCache(t *testing.T) { storetest.TestCache(t, newMyCache) }
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/store"
)

// NewIndex returns an empty index over storage of its own, and a function
// that opens that storage again as a new process would (the first index
// is abandoned, not closed).
type NewIndex func(t *testing.T) (x store.Index, reopen func(t *testing.T) store.Index)

// CacheOptions are what the suite asks of a cache.
type CacheOptions struct {
	MaxBytes int64 // the capacity
}

// NewCache returns an empty cache of the given capacity over storage of
// its own, and a function that opens that storage again as a new process
// would after a crash: the first cache is abandoned, writers and readers
// still open.
type NewCache func(t *testing.T, o CacheOptions) (c store.Cache, reopen func(t *testing.T) store.Cache)

var ctx = context.Background()

const foreign = types.DockerForeignLayer

// digest is the sha256 digest of s.
func digest(s string) v1.Hash {
	sum := sha256.Sum256([]byte(s))
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// manifest is the digest of the manifest numbered n.
func manifest(n int) v1.Hash { return digest(fmt.Sprintf("manifest %d", n)) }

// desc describes content as a foreign layer with urls.
func desc(content string, urls ...string) v1.Descriptor {
	return v1.Descriptor{MediaType: foreign, Size: int64(len(content)), Digest: digest(content), URLs: urls}
}

var (
	repoA = name.MustRepository("lib/ubuntu")
	repoB = name.MustRepository("other/ubuntu")
	repoC = name.MustRepository("lib")
)

// badDigests cannot be used: fl cannot verify them, or they could
// escape a directory.
var badDigests = []v1.Hash{
	{},
	{Algorithm: "sha256", Hex: "../../../../etc/passwd"},
	{Algorithm: "sha256", Hex: strings.Repeat("a", 63)},
	{Algorithm: "sha256", Hex: strings.ToUpper(digest("x").Hex)},
	{Algorithm: "sha384", Hex: strings.Repeat("a", 96)},
	{Algorithm: "md5", Hex: strings.Repeat("a", 32)},
	{Algorithm: "..", Hex: digest("x").Hex},
	{Algorithm: "sha512", Hex: strings.Repeat("a", 64)},
}

func run[T any](t *testing.T, tests []struct {
	name string
	f    func(t *testing.T, s T)
}, open func(t *testing.T) T) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t, open(t))
		})
	}
}
