package testutil

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Registry starts go-containerregistry's in-process registry on loopback
// and returns its host:port; it stops when the test ends.
func Registry(t testing.TB) string {
	s := httptest.NewServer(registry.New(registry.Logger(discardLogger())))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}
