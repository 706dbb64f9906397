package store

import (
	"hash/maphash"
	"sync"
)

// lru is a bounded map that forgets its least recently used entries,
// split in shards so that concurrent lookups rarely wait for each other.
type lru[K comparable, V any] struct {
	seed   maphash.Seed
	shards []lruShard[K, V]
}

type lruShard[K comparable, V any] struct {
	mu   sync.Mutex
	max  int
	m    map[K]*lruNode[K, V]
	head lruNode[K, V] // head.next is the most recent, head.prev the least
}

type lruNode[K comparable, V any] struct {
	k          K
	v          V
	prev, next *lruNode[K, V]
}

const lruShards = 16

// newLRU returns an lru of at most about max entries.
func newLRU[K comparable, V any](max int) *lru[K, V] {
	c := &lru[K, V]{seed: maphash.MakeSeed(), shards: make([]lruShard[K, V], lruShards)}
	per := max / lruShards
	if per < 1 {
		per = 1
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.max = per
		s.m = make(map[K]*lruNode[K, V])
		s.head.next, s.head.prev = &s.head, &s.head
	}
	return c
}

func (c *lru[K, V]) shard(k K) *lruShard[K, V] {
	return &c.shards[maphash.Comparable(c.seed, k)%lruShards]
}

// Get returns the value of k and marks it used.
func (c *lru[K, V]) Get(k K) (V, bool) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	s.unlink(n)
	s.pushFront(n)
	return n.v, true
}

// Put sets the value of k, forgetting the least recently used entry if
// the shard is full.
func (c *lru[K, V]) Put(k K, v V) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.m[k]; ok {
		n.v = v
		s.unlink(n)
		s.pushFront(n)
		return
	}
	n := &lruNode[K, V]{k: k, v: v}
	s.m[k] = n
	s.pushFront(n)
	if len(s.m) > s.max {
		old := s.head.prev
		s.unlink(old)
		delete(s.m, old.k)
	}
}

// Delete forgets k.
func (c *lru[K, V]) Delete(k K) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.m[k]; ok {
		s.unlink(n)
		delete(s.m, k)
	}
}

// Len returns the number of entries.
func (c *lru[K, V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func (s *lruShard[K, V]) unlink(n *lruNode[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

func (s *lruShard[K, V]) pushFront(n *lruNode[K, V]) {
	n.prev, n.next = &s.head, s.head.next
	s.head.next.prev = n
	s.head.next = n
}
