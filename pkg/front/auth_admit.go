package front

import (
	"errors"
	"net"
	"sync"
)

// errTooManyChecks is a credential check refused before bcrypt because
// the same user, or the same client address, already has as many checks
// waiting as it may.
var errTooManyChecks = errors.New("too many credential checks at once for this user or client")

// At most this many bcrypt checks wait or run at once per user name (known
// or not) and per client address. A flood of guesses at one user, or from
// one address, then holds a few places in the bcrypt queue, not all of
// them: other users' first checks wait behind a few bcrypt runs, not
// behind the flood.
const (
	maxChecksPerUser   = 2
	maxChecksPerClient = 16
)

// admission counts the checks waiting or running per user and client.
type admission struct {
	mu       sync.Mutex
	byUser   map[string]int
	byClient map[string]int
}

func newAdmission() *admission {
	return &admission{byUser: map[string]int{}, byClient: map[string]int{}}
}

// enter admits a check of user from client (a RemoteAddr), or refuses it.
func (ad *admission) enter(user, remoteAddr string) (leave func(), err error) {
	client, _, splitErr := net.SplitHostPort(remoteAddr)
	if splitErr != nil {
		client = remoteAddr
	}
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if ad.byUser[user] >= maxChecksPerUser || ad.byClient[client] >= maxChecksPerClient {
		return nil, errTooManyChecks
	}
	ad.byUser[user]++
	ad.byClient[client]++
	return func() {
		ad.mu.Lock()
		defer ad.mu.Unlock()
		for m, k := range map[*map[string]int]string{&ad.byUser: user, &ad.byClient: client} {
			if (*m)[k]--; (*m)[k] <= 0 {
				delete(*m, k)
			}
		}
	}, nil
}
