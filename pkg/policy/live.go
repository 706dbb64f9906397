package policy

import (
	"net/url"
	"sync/atomic"
	"syscall"

	"github.com/foreignlayers/fl/pkg/fetch"
)

// Live is a policy that can be replaced while the server runs (SIGHUP):
// every check reads the policy in force at that moment.
type Live struct{ p atomic.Pointer[Policy] }

// NewLive returns a Live policy starting with p.
func NewLive(p *Policy) *Live {
	l := &Live{}
	l.Store(p)
	return l
}

// Load returns the policy in force.
func (l *Live) Load() *Policy { return l.p.Load() }

// Store puts p in force.
func (l *Live) Store(p *Policy) {
	if p == nil {
		p = &Policy{}
	}
	l.p.Store(p)
}

// FetchOptions make a fetch client enforce the policy in force on every
// request, redirect hop and dialled address.
func (l *Live) FetchOptions() []fetch.Option {
	return []fetch.Option{
		fetch.WithURLCheck(func(u *url.URL) error { return l.Load().CheckURL(u) }),
		fetch.WithDialControl(func(network, address string, c syscall.RawConn) error {
			p := l.Load()
			if p.AllowPrivate {
				return nil
			}
			return p.dial(network, address, c)
		}),
	}
}
