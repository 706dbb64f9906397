// Package progress draws per-layer progress bars on a terminal of known
// size, and does nothing at all otherwise (a pipe, a file, a
// pseudo-terminal nobody gave a size), so that logs and scripts see no
// control characters. Lines written through a Reporter always arrive,
// whole, above the bars while they are drawn.
package progress

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// refreshEvery is how often the bars are redrawn.
const refreshEvery = 150 * time.Millisecond

// Reporter hands out bars. The zero value draws nothing.
type Reporter struct {
	out io.Writer

	mu      sync.RWMutex // held for writing while the bars shut down
	p       *mpb.Progress
	refresh chan any
	stop    chan struct{}
	closed  bool
	bars    sync.WaitGroup
}

// Bar tracks one stream.
type Bar struct {
	b    *mpb.Bar
	done func()
	once sync.Once
}

// New returns a Reporter that draws on w when w is a terminal with a size
// and enabled is true; otherwise one that draws nothing.
func New(w io.Writer, enabled bool) *Reporter {
	r := &Reporter{out: w}
	if !enabled || !Drawable(w) {
		return r
	}
	r.refresh = make(chan any, 1)
	r.stop = make(chan struct{})
	r.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithManualRefresh(r.refresh))
	go r.tick()
	return r
}

// Drawable reports whether bars can be drawn on w: a terminal that knows
// its size.
func Drawable(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	width, height, err := term.GetSize(int(f.Fd()))
	return err == nil && width > 0 && height > 0
}

func (r *Reporter) tick() {
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.poke()
		}
	}
}

// poke asks for a redraw, unless one is already pending.
func (r *Reporter) poke() {
	select {
	case r.refresh <- time.Now():
	default:
	}
}

// Write prints b above the bars while they are drawn, so that log lines
// neither tear them nor get lost; otherwise it writes straight to the
// output.
func (r *Reporter) Write(b []byte) (int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.p != nil && !r.closed {
		if n, err := r.p.Write(b); err == nil {
			r.poke()
			return n, nil
		}
	}
	if r.out == nil {
		return len(b), nil
	}
	return r.out.Write(b)
}

// Start adds a bar named name for a stream of total bytes (-1 or 0 when
// unknown).
func (r *Reporter) Start(name string, total int64) *Bar {
	if r == nil || r.p == nil {
		return &Bar{}
	}
	if len(name) > 48 {
		name = "…" + name[len(name)-47:]
	}
	b := r.p.AddBar(max(total, 0),
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Counters(decor.SizeB1024(0), "% .1f / % .1f"), decor.Name(" "), decor.AverageSpeed(decor.SizeB1024(0), "% .1f")),
	)
	r.bars.Add(1)
	return &Bar{b: b, done: r.bars.Done}
}

// Wrap counts bytes read through r on the bar.
func (b *Bar) Wrap(r io.Reader) io.Reader {
	if b.b == nil {
		return r
	}
	pr, err := b.b.ProxyReader(r)
	if err != nil {
		return r
	}
	return pr
}

// Done ends the bar; a failed stream's bar is dropped.
func (b *Bar) Done(err error) {
	if b.b == nil {
		return
	}
	b.once.Do(func() {
		if err != nil {
			b.b.Abort(true)
		} else {
			b.b.SetTotal(-1, true)
		}
		b.done()
	})
}

// Wait waits for every bar to end and be drawn for the last time, with
// every line written before it; later writes go straight to the output.
func (r *Reporter) Wait() {
	if r == nil || r.p == nil {
		return
	}
	r.bars.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	close(r.stop)
	// One last redraw flushes the lines written since the previous one:
	// mpb drops them at shutdown otherwise.
	r.refresh <- time.Now()
	r.p.Wait()
}
