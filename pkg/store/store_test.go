package store_test

import (
	"testing"

	"github.com/foreignlayers/fl/pkg/store"
	"github.com/foreignlayers/fl/pkg/store/storetest"
)

func TestFSIndex(t *testing.T) {
	dir := t.TempDir()
	open := func(t *testing.T) store.Index {
		x, err := store.OpenFSIndex(dir)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	storetest.TestIndex(t, open, open)
}

func TestFSCache(t *testing.T) {
	storetest.TestCache(t, func(t *testing.T) store.Cache {
		c, err := store.OpenFSCache(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}
