package front

import (
	"container/list"
	"context"
	"errors"
	"net"
	"sync"
)

// errTooManyChecks is a credential check refused before bcrypt: too many
// checks wait already, in all or from the client's address.
var errTooManyChecks = errors.New("too many credential checks waiting")

// At most this many credential checks wait for bcrypt, in all and per
// client address; more are answered 429 at once.
const (
	maxWaitingChecks    = 4096
	maxWaitingPerClient = 256
)

// gate hands out bcrypt slots fairly: a free slot goes to the next user
// name in turn that has a check waiting, so a flood of guesses at one
// user delays every other user by at most one bcrypt per flooded name,
// and delays the flooded user itself only by the guesses already queued
// for it (never refuses it while it has room to wait).
type gate struct {
	mu       sync.Mutex
	free     int                   // slots nobody holds
	queues   map[string]*list.List // user name -> waiting checks
	turn     *list.List            // user names with checks waiting, in turn
	waiting  int
	byClient map[string]int
}

type waiter struct {
	ready  chan struct{}
	client string
	el     *list.Element // in its user's queue
}

func newGate(slots int) *gate {
	return &gate{free: slots, queues: map[string]*list.List{}, turn: list.New(), byClient: map[string]int{}}
}

// acquire waits for a bcrypt slot for a check of user from remoteAddr.
func (g *gate) acquire(ctx context.Context, user, remoteAddr string) (release func(), err error) {
	client, _, splitErr := net.SplitHostPort(remoteAddr)
	if splitErr != nil {
		client = remoteAddr
	}
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
	w := &waiter{ready: make(chan struct{}), client: client}
	q := g.queues[user]
	if q == nil {
		q = list.New()
		g.queues[user] = q
		g.turn.PushBack(user)
	}
	w.el = q.PushBack(w)
	g.waiting++
	g.byClient[client]++
	g.mu.Unlock()

	select {
	case <-w.ready:
		return g.release, nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-w.ready: // handed a slot as the context ended: give it on
		g.handOnLocked()
	default:
		g.dropLocked(user, w)
	}
	return nil, ctx.Err()
}

// release gives a slot back, to the next user in turn.
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
	user := g.turn.Remove(front).(string)
	q := g.queues[user]
	w := q.Remove(q.Front()).(*waiter)
	g.doneWaitingLocked(w)
	if q.Len() == 0 {
		delete(g.queues, user)
	} else {
		g.turn.PushBack(user) // its next check waits for its next turn
	}
	close(w.ready)
}

// dropLocked takes a waiter that gave up out of its queue.
func (g *gate) dropLocked(user string, w *waiter) {
	q := g.queues[user]
	q.Remove(w.el)
	g.doneWaitingLocked(w)
	if q.Len() == 0 {
		delete(g.queues, user)
		for e := g.turn.Front(); e != nil; e = e.Next() {
			if e.Value.(string) == user {
				g.turn.Remove(e)
				break
			}
		}
	}
}

func (g *gate) doneWaitingLocked(w *waiter) {
	g.waiting--
	if g.byClient[w.client]--; g.byClient[w.client] <= 0 {
		delete(g.byClient, w.client)
	}
}
