package commands

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/foreignlayers/fl/internal/testutil"
)

// pty is a pseudo-terminal: fl writes its stderr to the slave side, the
// test reads everything from the master side.
type pty struct {
	master, slave *os.File
	mu            sync.Mutex
	buf           bytes.Buffer
	done          chan struct{}
}

// openPTY opens a pseudo-terminal of cols×rows, or one nobody gave a size
// (0×0, as under some CI runners and `script`) when cols is 0.
func openPTY(t *testing.T, cols, rows uint16) *pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if cols > 0 {
		if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
			t.Fatal(err)
		}
	}
	p := &pty{master: m, slave: s, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		b := make([]byte, 4096)
		for {
			n, err := m.Read(b)
			p.mu.Lock()
			p.buf.Write(b[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { m.Close(); s.Close() })
	return p
}

// output closes the slave side and returns all that was written to it,
// with carriage returns dropped.
func (p *pty) output(t *testing.T) string {
	t.Helper()
	p.slave.Close()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the pseudo-terminal did not drain")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.ReplaceAll(p.buf.String(), "\r", "")
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// flTTY runs fl as typed with stderr on the pseudo-terminal.
func flTTY(t *testing.T, p *pty, args ...string) (stdout string, code int) {
	t.Helper()
	var out bytes.Buffer
	code = execute(context.Background(), args, strings.NewReader(""), &out, p.slave)
	return out.String(), code
}

// TestTerminalOutput: on a terminal with a size, bars are drawn and every
// log line still arrives whole (the last layer's "read layer" line, the
// --strip-urls warning); on a terminal without a size there are no bars,
// and no line is lost either.
func TestTerminalOutput(t *testing.T) {
	slow := testutil.NewUpstream(t)
	slow.Put("/big.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"big": string(randomBytes(t, 512<<10))})))
	slow.Throttle(20 * time.Millisecond)
	fast := testutil.NewUpstream(t)
	fast.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "a"})))
	fast.Put("/b.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"b": "b"})))
	urls := []string{fast.URL("/a.tar.gz"), slow.URL("/big.tar.gz"), fast.URL("/b.tar.gz")}

	for _, tc := range []struct {
		name       string
		cols, rows uint16
		bars       bool
	}{
		{"sized", 120, 40, true},
		{"unsized", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := testutil.Registry(t)
			p := openPTY(t, tc.cols, tc.rows)
			args := []string{"build", "-t", reg + "/tty:1"}
			for _, u := range urls {
				args = append(args, "--layer", u)
			}
			stdout, code := flTTY(t, p, args...)
			if code != 0 || !strings.HasPrefix(stdout, reg+"/tty@sha256:") {
				t.Fatalf("build: exit %d, stdout %q", code, stdout)
			}
			stdout, code = flTTY(t, p, "copy", "--strip-urls", reg+"/tty:1", reg+"/stripped:1")
			if code != 0 || !strings.HasPrefix(stdout, reg+"/stripped@sha256:") {
				t.Fatalf("copy: exit %d, stdout %q", code, stdout)
			}
			raw := p.output(t)
			text := ansi.ReplaceAllString(raw, "")
			lines := strings.Split(text, "\n")
			for _, u := range urls {
				if !hasLine(lines, `msg="read layer" url=`+u+" ") {
					t.Errorf("no whole \"read layer\" line for %s in:\n%s", u, text)
				}
			}
			for _, w := range []string{`level=INFO msg=publishing`, `level=WARN msg="the digest changed: layer urls were stripped`} {
				if !hasLine(lines, w) {
					t.Errorf("no whole line with %q in:\n%s", w, text)
				}
			}
			if drew := strings.Contains(raw, "\x1b["); drew != tc.bars {
				t.Errorf("bars drawn: %v, want %v; output:\n%q", drew, tc.bars, raw)
			}
		})
	}
}

// hasLine reports whether a line starts with a time= log prefix and holds
// want whole.
func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if i := strings.Index(l, "time="); i >= 0 && strings.Contains(l[i:], want) {
			return true
		}
	}
	return false
}
