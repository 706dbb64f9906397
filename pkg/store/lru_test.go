package store

import "testing"

func TestLRU(t *testing.T) {
	t.Parallel()
	const max = 4 * lruShards
	c := newLRU[int, int](max)
	for i := range 1000 {
		c.Put(i, i)
		if v, ok := c.Get(0); !ok || v != 0 { // kept in use
			t.Fatalf("Get(0) after %d puts = %d, %v", i, v, ok)
		}
	}
	if n := c.Len(); n > max || n < max/2 {
		t.Errorf("Len = %d, want about %d", n, max)
	}
	if v, ok := c.Get(999); !ok || v != 999 {
		t.Errorf("the newest entry is gone: %d, %v", v, ok)
	}
	if _, ok := c.Get(1); ok {
		t.Error("an old, unused entry was kept")
	}
	c.Put(999, -1)
	if v, _ := c.Get(999); v != -1 {
		t.Errorf("Put did not update: %d", v)
	}
	c.Delete(999)
	if _, ok := c.Get(999); ok {
		t.Error("Delete did not delete")
	}
}
