package commands

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/imageref"
	"github.com/foreignlayers/fl/pkg/inspect"
	"github.com/foreignlayers/fl/pkg/verify"
)

func newVerify(g *globals) *cobra.Command {
	var (
		reg     registryFlags
		asJSON  bool
		deep    bool
		jobs    int
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "verify REF [REF...]",
		Short: "Check that the URLs of foreign layers still answer, with the right content",
		Long: `Check every URL of every foreign layer of the images, for link rot.

Each URL is asked for its size (HEAD, falling back to a GET of one byte);
with --deep its content is downloaded and its digest checked. Each URL is
ok, moved (a permanent redirect), size mismatch, digest mismatch, an HTTP
status, or a DNS, TLS, timeout or connection error. A layer is healthy when
at least one of its URLs is ok.

Exit status: 0 when every layer is healthy, 1 when one is not, 2 when the
check itself could not run. Meant for cron and CI.`,
		Example: `  fl verify registry.example.com/ubuntu:24.04
  fl verify --deep --json oci-layout:./mirror`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client := fetch.New(fetch.WithLogger(g.logger), fetch.WithUserAgent("fl/"+version()),
				fetch.WithTimeouts(timeout, timeout, timeout), fetch.WithRetries(2, 500*time.Millisecond))
			if err := reg.prepare(cmd.InOrStdin(), g.stderr); err != nil {
				return exitError{2, err}
			}
			var reports []verify.Report
			for _, a := range args {
				ref, err := imageref.Parse(a, reg.nameOptions()...)
				if err != nil {
					return exitError{2, err}
				}
				s, err := inspect.Load(ctx, ref, reg.remoteOptions(ctx)...)
				if err != nil {
					return exitError{2, err}
				}
				reports = append(reports, verify.Check(ctx, s, verify.Options{Client: client, Deep: deep, Jobs: jobs}))
			}
			if err := printVerify(g.stdout, reports, asJSON, g.quiet); err != nil {
				return exitError{2, err}
			}
			for _, r := range reports {
				if !r.Healthy {
					return exitError{1, fmt.Errorf("%s has unhealthy foreign layers", r.Reference)}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	f.BoolVar(&deep, "deep", false, "download every URL's content and verify its digest")
	f.IntVarP(&jobs, "jobs", "j", 8, "URLs checked at once")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "connect, header and idle timeout for each URL")
	reg.register(f)
	return cmd
}

// printVerify prints a table of every URL, or with quiet only the
// unhealthy layers' (nothing at all when every layer is healthy), so that
// cron mails only when something is wrong.
func printVerify(w io.Writer, reports []verify.Report, asJSON, quiet bool) error {
	if asJSON {
		return printJSON(w, reports)
	}
	for _, r := range reports {
		if quiet {
			if r.Healthy {
				continue
			}
			kept := r.Layers[:0:0]
			for _, l := range r.Layers {
				if !l.Healthy {
					kept = append(kept, l)
				}
			}
			r.Layers = kept
		}
		fmt.Fprintf(w, "%s  %s\n", r.Reference, r.Digest)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  PLATFORM\tLAYER\tSIZE\tURL\tRESULT")
		healthy := 0
		for _, l := range r.Layers {
			if l.Healthy {
				healthy++
			}
			for i, u := range l.URLs {
				plat, layer, size := l.Platform, short(l.Digest), humanSize(l.Size)
				if i > 0 {
					plat, layer, size = "", "", ""
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", plat, layer, size, u.URL, resultText(u))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if quiet {
			fmt.Fprintf(w, "%s unhealthy\n\n", count(len(r.Layers), "foreign layer", "foreign layers"))
			continue
		}
		fmt.Fprintf(w, "%s: %d healthy, %d unhealthy\n\n", count(len(r.Layers), "foreign layer", "foreign layers"), healthy, len(r.Layers)-healthy)
	}
	return nil
}

func resultText(u verify.URLResult) string {
	switch u.Status {
	case verify.OK:
		return "ok"
	case verify.HTTPStatus:
		return fmt.Sprintf("http %d", u.HTTPStatus)
	case verify.Moved:
		var chain []string
		for _, h := range u.Redirects {
			chain = append(chain, fmt.Sprintf("%d %s", h.Status, h.URL))
		}
		return "moved: " + strings.Join(chain, " -> ")
	}
	return string(u.Status) + ": " + u.Detail
}
