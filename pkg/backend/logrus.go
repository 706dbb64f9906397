package backend

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/sirupsen/logrus"
)

var bridgeOnce sync.Once

// bridgeLogrus sends distribution's logrus output to slog, at warning and
// above: its info logs are per-request noise next to the front's own.
func bridgeLogrus(l *slog.Logger) {
	bridgeOnce.Do(func() {
		std := logrus.StandardLogger()
		std.SetOutput(io.Discard)
		std.SetLevel(logrus.WarnLevel)
		std.AddHook(slogHook{l})
	})
}

type slogHook struct{ l *slog.Logger }

func (h slogHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h slogHook) Fire(e *logrus.Entry) error {
	level := slog.LevelWarn
	if e.Level <= logrus.ErrorLevel {
		level = slog.LevelError
	}
	// distribution logs every 4xx answer as an error; those are the
	// client's business (a HEAD for a missing blob is how pushes start).
	if status, ok := e.Data["http.response.status"].(int); ok && status < 500 {
		level = slog.LevelDebug
	}
	// Cancelling an upload (DELETE, as fl build's push check and crane do)
	// closes its writer twice inside distribution: harmless, and not an
	// error anyone should be paged for.
	if e.Message == "error closing blobwriter: already closed" {
		level = slog.LevelDebug
	}
	attrs := []any{"component", "distribution"}
	for k, v := range e.Data {
		if k == "go.version" || k == "instance.id" || k == "service" {
			continue
		}
		attrs = append(attrs, k, v)
	}
	h.l.Log(context.Background(), level, e.Message, attrs...)
	return nil
}
