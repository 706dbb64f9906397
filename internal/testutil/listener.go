package testutil

import (
	"net"
	"sync/atomic"
	"testing"
)

// CountingListener accepts connections on addr, counts them and closes
// them at once: proof that something did, or did not, connect.
type CountingListener struct {
	net.Listener
	n atomic.Int64
}

// ListenCounting listens on addr ("127.0.0.1:0", "[::1]:0"); it skips the
// test if the address family is not available here.
func ListenCounting(t testing.TB, network, addr string) *CountingListener {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s %s here: %v", network, addr, err)
	}
	c := &CountingListener{Listener: l}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			c.n.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return c
}

// Accepted is how many connections were made.
func (c *CountingListener) Accepted() int64 { return c.n.Load() }

// Port is the listener's port.
func (c *CountingListener) Port() string {
	_, p, _ := net.SplitHostPort(c.Addr().String())
	return p
}
