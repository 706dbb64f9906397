package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// casAttempts bounds the read-modify-write rounds of one update: each
// lost round means another replica wrote the object meanwhile.
const casAttempts = 12

// casAction is what an update decides for the object.
type casAction int

const (
	casKeep casAction = iota // leave it as it is
	casPut                   // write the record
)

// casState is an object as read: its record and ETag ("" if absent).
type casState[T any] struct {
	rec  *T
	etag string
}

// casUpdate applies f to the record of key and writes the result with a
// conditional write, holding the record's lock (s3lock.go), reading again
// and retrying when another writer got there first. first, when not nil, is the state already read. f gets a
// fresh record each round (the zero T when the object is absent, with
// exists false). It returns the record as it is after the update, nil
// for none.
func casUpdate[T any](ctx context.Context, l S3Location, key string, first *casState[T], f func(rec *T, exists bool) (casAction, error)) (*T, error) {
	unlock, err := l.lock(ctx, key)
	if err != nil {
		return nil, err
	}
	defer unlock()
	for attempt := 0; ; attempt++ {
		var st casState[T]
		if attempt == 0 && first != nil {
			st = *first
		} else {
			st.rec = new(T)
			etag, err := l.getJSON(ctx, key, st.rec)
			if err != nil {
				return nil, err
			}
			st.etag = etag
		}
		exists := st.etag != ""
		if !exists {
			st.rec = new(T)
		}
		act, err := f(st.rec, exists)
		if err != nil {
			return nil, err
		}
		switch act {
		case casKeep:
			if !exists {
				return nil, nil
			}
			return st.rec, nil
		case casPut:
			if _, err = l.putJSON(ctx, key, st.rec, st.etag); err == nil {
				return st.rec, nil
			}
		}
		if !errors.Is(err, errLostRace) {
			return nil, err
		}
		if attempt+1 >= casAttempts {
			return nil, fmt.Errorf("s3: %s: %d conditional writes lost in a row: %w", key, casAttempts, err)
		}
		if err := casBackoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// casBackoff waits a random time that grows with attempt, from about
// 5 ms to about 300 ms, so that racing writers spread out.
func casBackoff(ctx context.Context, attempt int) error {
	d := time.Duration(5<<min(attempt, 6)) * time.Millisecond
	d = d/2 + rand.N(d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
