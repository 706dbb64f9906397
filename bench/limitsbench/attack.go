package main

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// attackStats count what the attackers got.
type attackStats struct {
	mu       sync.Mutex
	status   map[int]int
	errors   int
	known    latencies // a known user with a wrong password
	unknown  latencies // a user the server does not know
	requests int
}

func (s *attackStats) add(knownUser bool, status int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.status[status]++
	if knownUser {
		s.known = append(s.known, d)
	} else {
		s.unknown = append(s.unknown, d)
	}
}

// attack runs n attackers, each on a connection of its own, sending bad
// Basic credentials to paths back to back until ctx is done: even
// attackers name known users with random wrong passwords, odd ones
// random unknown users. Every password is new, so no cache of failures
// can answer for bcrypt. It returns when all have stopped.
func attack(ctx context.Context, base string, n int, users, paths []string) *attackStats {
	st := &attackStats{status: map[int]int{}}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}}
			defer hc.CloseIdleConnections()
			for k := 0; ctx.Err() == nil; k++ {
				known := i%2 == 0
				user := "nobody-" + randHex(4)
				if known {
					user = users[(i/2+k)%len(users)]
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+paths[k%len(paths)], nil)
				if err != nil {
					return
				}
				req.SetBasicAuth(user, randHex(8))
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						st.mu.Lock()
						st.errors++
						st.mu.Unlock()
						time.Sleep(10 * time.Millisecond)
					}
					continue
				}
				drain(resp)
				st.add(known, resp.StatusCode, time.Since(t0))
			}
		}()
	}
	<-ctx.Done()
	wg.Wait()
	return st
}

// badOnce sends bad credentials one request at a time, no other load:
// how long a known user with a wrong password and an unknown user take.
func badOnce(ctx context.Context, base, path string, users []string, rounds int) (known, unknown latencies) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: time.Minute}
	defer hc.CloseIdleConnections()
	for k := range 2 * rounds {
		user := "nobody-" + randHex(4)
		if k%2 == 0 {
			user = users[k/2%len(users)]
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return
		}
		req.SetBasicAuth(user, randHex(8))
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			continue
		}
		drain(resp)
		if d := time.Since(t0); k%2 == 0 {
			known = append(known, d)
		} else {
			unknown = append(unknown, d)
		}
	}
	return known, unknown
}
