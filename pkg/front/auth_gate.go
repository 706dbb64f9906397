package front

import (
	"container/list"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// errTooManyChecks is a credential check refused before bcrypt: too many
// checks wait already, in all or from the client's address, or it waited
// too long.
var errTooManyChecks = errors.New("too many credential checks waiting")

// At most this many credential checks wait for bcrypt, in all and per
// client address, and none waits longer than maxCheckWait; more are
// answered 429 at once.
const (
	maxWaitingChecks    = 4096
	maxWaitingPerClient = 256
	maxCheckWait        = 30 * time.Second
)

// gate hands out bcrypt slots fairly: a free slot goes to the next client
// address in turn that has a check waiting (an IPv6 client by its /64),
// and within an address to the next user name in turn. So a flood from
// one address delays checks from any other address by about one bcrypt,
// whatever user names it makes up; within one address (a NAT) a flood of
// guesses at one user delays other users by about one bcrypt too; and the
// flooded user itself only waits behind the guesses already queued for
// it (it is never refused while there is room to wait).
type gate struct {
	mu       sync.Mutex
	free     int                 // slots nobody holds
	clients  map[string]*clientQ // address -> its waiting checks
	turn     *list.List          // addresses with checks waiting, in turn
	waiting  int
	byClient map[string]int
}

// clientQ is one address's waiting checks, by user name, in turn.
type clientQ struct {
	users map[string]*list.List
	turn  *list.List
	el    *list.Element // in gate.turn
}

type waiter struct {
	ready        chan struct{}
	client, user string
	el           *list.Element // in its user's queue
}

func newGate(slots int) *gate {
	return &gate{free: slots, clients: map[string]*clientQ{}, turn: list.New(), byClient: map[string]int{}}
}

// clientKey is the address a check counts against: the IP, or an IPv6
// address's /64 (one host gets a whole /64).
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// acquire waits for a bcrypt slot for a check of user from remoteAddr.
func (g *gate) acquire(ctx context.Context, user, remoteAddr string) (release func(), err error) {
	client := clientKey(remoteAddr)
	g.mu.Lock()
	if g.free > 0 && g.waiting == 0 {
		g.free--
		g.mu.Unlock()
		return g.release, nil
	}
	if g.waiting >= maxWaitingChecks || g.byClient[client] >= maxWaitingPerClient {
		g.mu.Unlock()
		return nil, errTooManyChecks
	}
	w := &waiter{ready: make(chan struct{}), client: client, user: user}
	g.enqueueLocked(w)
	g.mu.Unlock()

	t := time.NewTimer(maxCheckWait)
	defer t.Stop()
	var cause error
	select {
	case <-w.ready:
		return g.release, nil
	case <-ctx.Done():
		cause = ctx.Err()
	case <-t.C:
		cause = errTooManyChecks
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-w.ready: // handed a slot as it gave up: give it on
		g.handOnLocked()
	default:
		g.dropLocked(w)
	}
	return nil, cause
}

func (g *gate) enqueueLocked(w *waiter) {
	c := g.clients[w.client]
	if c == nil {
		c = &clientQ{users: map[string]*list.List{}, turn: list.New()}
		g.clients[w.client] = c
		c.el = g.turn.PushBack(w.client)
	}
	q := c.users[w.user]
	if q == nil {
		q = list.New()
		c.users[w.user] = q
		c.turn.PushBack(w.user)
	}
	w.el = q.PushBack(w)
	g.waiting++
	g.byClient[w.client]++
}

// release gives a slot back, to the next waiting check in turn.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.handOnLocked()
}

func (g *gate) handOnLocked() {
	front := g.turn.Front()
	if front == nil {
		g.free++
		return
	}
	client := front.Value.(string)
	c := g.clients[client]
	user := c.turn.Remove(c.turn.Front()).(string)
	q := c.users[user]
	w := q.Remove(q.Front()).(*waiter)
	if q.Len() == 0 {
		delete(c.users, user)
	} else {
		c.turn.PushBack(user) // its next check waits for its next turn
	}
	g.turn.Remove(front)
	if c.turn.Len() == 0 {
		delete(g.clients, client)
	} else {
		c.el = g.turn.PushBack(client)
	}
	g.doneWaitingLocked(w)
	close(w.ready)
}

// dropLocked takes a waiter that gave up out of its queues.
func (g *gate) dropLocked(w *waiter) {
	c := g.clients[w.client]
	q := c.users[w.user]
	q.Remove(w.el)
	if q.Len() == 0 {
		delete(c.users, w.user)
		removeValue(c.turn, w.user)
	}
	if c.turn.Len() == 0 {
		g.turn.Remove(c.el)
		delete(g.clients, w.client)
	}
	g.doneWaitingLocked(w)
}

func removeValue(l *list.List, v string) {
	for e := l.Front(); e != nil; e = e.Next() {
		if e.Value.(string) == v {
			l.Remove(e)
			return
		}
	}
}

func (g *gate) doneWaitingLocked(w *waiter) {
	g.waiting--
	if g.byClient[w.client]--; g.byClient[w.client] <= 0 {
		delete(g.byClient, w.client)
	}
}
