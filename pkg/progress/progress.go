// Package progress draws per-layer progress bars on a terminal, and does
// nothing at all when output is not a terminal, so that logs and scripts
// see no control characters.
package progress

import (
	"io"
	"os"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// Reporter hands out bars. The zero value draws nothing.
type Reporter struct {
	p   *mpb.Progress
	out io.Writer
}

// Bar tracks one stream.
type Bar struct {
	b *mpb.Bar
}

// New returns a Reporter that draws on w when w is a terminal and enabled
// is true; otherwise one that draws nothing.
func New(w io.Writer, enabled bool) *Reporter {
	f, ok := w.(*os.File)
	if !enabled || !ok || !term.IsTerminal(int(f.Fd())) {
		return &Reporter{out: w}
	}
	return &Reporter{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40)), out: w}
}

// Write prints above the bars while they are drawn, so that log lines do
// not tear them; otherwise it writes straight to the output.
func (r *Reporter) Write(b []byte) (int, error) {
	if r.p != nil {
		if n, err := r.p.Write(b); err == nil {
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
	return &Bar{b: b}
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
	if err != nil {
		b.b.Abort(true)
		return
	}
	b.b.SetTotal(-1, true)
}

// Wait waits for every bar to be drawn for the last time.
func (r *Reporter) Wait() {
	if r != nil && r.p != nil {
		r.p.Wait()
	}
}
