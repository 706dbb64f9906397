package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/foreignlayers/fl/pkg/image"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printSummary writes the human-readable table of an image.
func printSummary(w io.Writer, s *image.Summary) error {
	fmt.Fprintf(w, "Reference:   %s\nDigest:      %s\nMedia type:  %s\n", s.Reference, s.Digest, s.MediaType)
	if s.StrippedDigest != "" {
		fmt.Fprintf(w, "Without urls: %s  (fl copy --strip-urls; fl serve --strip-urls-prefix)\n", s.StrippedDigest)
	}
	for _, m := range s.Manifests {
		foreign := 0
		for _, l := range m.Layers {
			if l.Foreign {
				foreign++
			}
		}
		fmt.Fprintf(w, "\nPlatform %s  %s  (%s, %d foreign)\n", m.Platform, m.Digest, count(len(m.Layers), "layer", "layers"), foreign)
		if m.Error != "" {
			fmt.Fprintf(w, "  %s\n", m.Error)
		}
		if len(m.Layers) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  #\tDIGEST\tSIZE\tFOREIGN\tMEDIA TYPE\tURLS")
		for i, l := range m.Layers {
			f := "no"
			if l.Foreign {
				f = "yes"
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", i, short(l.Digest), humanSize(l.Size), f, l.MediaType, strings.Join(l.URLs, " "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// count says "1 layer", "2 layers".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
