package commands

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// result is what one fl invocation printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// fl runs the real root command as a user types it.
func fl(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, &out, &errb)
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// mustFL runs fl and fails the test unless it exits 0.
func mustFL(t *testing.T, args ...string) result {
	t.Helper()
	r := fl(t, args...)
	if r.code != 0 {
		t.Fatalf("fl %s: exit %d\nstderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}
