// Package commands holds fl's cobra commands, one file each. Commands
// parse flags, call library packages, and print results on stdout; logs
// and progress go to stderr. No command builds an HTTP request itself.
package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	verbose   bool
	quiet     bool
	logFormat string
	stdout    io.Writer
	stderr    io.Writer
	logger    *slog.Logger
	logOut    *swapWriter
}

// swapWriter is where logs go: stderr, or above the progress bars while
// they are drawn.
type swapWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *swapWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// logAbove sends logs through w (progress bars) until the returned func
// is called.
func (g *globals) logAbove(w io.Writer) func() {
	g.logOut.mu.Lock()
	g.logOut.w = w
	g.logOut.mu.Unlock()
	return func() {
		g.logOut.mu.Lock()
		g.logOut.w = g.stderr
		g.logOut.mu.Unlock()
	}
}

// New returns fl's root command, writing results to stdout and logs to
// stderr.
func New(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "fl",
		Short: "Foreign layers that work everywhere",
		Long: "fl builds, serves, checks and mirrors container images whose layers live at URLs\n" +
			"outside the registry (\"foreign\" or non-distributable layers).",
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return g.setup()
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate(readBuildInfo().text())
	pf := root.PersistentFlags()
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail to stderr")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "log only warnings and errors")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format on stderr: text or json")
	root.AddCommand(newBuild(g), newInspect(g), newServe(g), newVerify(g), newCopy(g), newSave(g), newVersion(g), newGC(g), newCache(g), newLogin(g), newLogout(g))
	return root
}

func (g *globals) setup() error {
	level := slog.LevelInfo
	switch {
	case g.verbose && g.quiet:
		return errors.New("--verbose and --quiet cannot be used together")
	case g.verbose:
		level = slog.LevelDebug
	case g.quiet:
		level = slog.LevelWarn
	}
	opts := &slog.HandlerOptions{Level: level}
	g.logOut = &swapWriter{w: g.stderr}
	switch g.logFormat {
	case "text":
		g.logger = slog.New(slog.NewTextHandler(g.logOut, opts))
	case "json":
		g.logger = slog.New(slog.NewJSONHandler(g.logOut, opts))
	default:
		return fmt.Errorf("--log-format %q: use text or json", g.logFormat)
	}
	return nil
}

// Execute runs fl with args and returns the process exit status.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, args, os.Stdin, stdout, stderr)
}

// execute is Execute reading stdin from in (fl login --password-stdin).
func execute(ctx context.Context, args []string, in io.Reader, stdout, stderr io.Writer) int {
	root := New(stdout, stderr)
	root.SetIn(in)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "fl: error: %v\n", err)
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// exitError carries a specific exit status (fl verify uses 1 and 2).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
