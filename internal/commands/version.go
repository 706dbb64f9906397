package commands

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at link time, as scripts/image.sh does:
//
//	go build -ldflags "-X github.com/foreignlayers/fl/internal/commands.Version=v0.3.0
//	  -X github.com/foreignlayers/fl/internal/commands.Commit=$(git rev-parse HEAD)
//	  -X github.com/foreignlayers/fl/internal/commands.Date=2025-01-02T03:04:05Z" ./cmd/fl
//
// Each one left empty comes from the binary's build info: the module
// version (go install fl@v0.3.0), and the VCS revision and commit time
// that go build stamps inside a git checkout.
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// buildInfo is what fl version prints.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" {
			b.Version = bi.Main.Version
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && Commit == "" && b.Commit != "" {
			b.Commit += "-dirty"
		}
	}
	for _, p := range []*string{&b.Version, &b.Commit, &b.Date} {
		if *p == "" {
			*p = "unknown"
		}
	}
	if b.Version == "unknown" {
		b.Version = "devel"
	}
	return b
}

func (b buildInfo) text() string {
	return fmt.Sprintf("fl %s\ncommit:  %s\nbuilt:   %s\ngo:      %s %s\n", b.Version, b.Commit, b.Date, b.GoVersion, b.Platform)
}

// version is fl's version, for User-Agent headers.
func version() string { return readBuildInfo().Version }

func newVersion(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print fl's version, commit, build date and Go version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b := readBuildInfo()
			if asJSON {
				return printJSON(g.stdout, b)
			}
			_, err := fmt.Fprint(g.stdout, b.text())
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
