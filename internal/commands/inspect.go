package commands

import (
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/foreignlayers/fl/pkg/image"
	"github.com/foreignlayers/fl/pkg/imageref"
	"github.com/foreignlayers/fl/pkg/inspect"
)

func newInspect(g *globals) *cobra.Command {
	var (
		reg      registryFlags
		asJSON   bool
		raw      bool
		config   bool
		platform string
	)
	cmd := &cobra.Command{
		Use:   "inspect REF",
		Short: "Show an image's layers per platform, which are foreign, and their URLs",
		Long: `Show an image's layers per platform, which are foreign, and their URLs,
without downloading any layer.

--raw prints the manifest (or index) bytes exactly as served, so that
fl inspect --raw REF | sha256sum gives the digest; --config prints the
image's config blob. --platform picks one image of an index.`,
		Example: `  fl inspect localhost:5000/ubuntu:24.04
  fl inspect --json oci-layout:./out
  fl inspect --raw --platform linux/arm64 docker://localhost:5000/multi:1
  fl inspect --config oci:./carry:ubuntu`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := reg.prepare(cmd.InOrStdin(), g.stderr); err != nil {
				return err
			}
			if raw && config {
				return errors.New("--raw and --config do not go together: give one")
			}
			if (raw || config) && asJSON {
				return errors.New("--json does not go with --raw or --config: they print the bytes as they are")
			}
			var want *v1.Platform
			if platform != "" {
				var err error
				if want, err = v1.ParsePlatform(platform); err != nil {
					return fmt.Errorf("--platform %q: %w", platform, err)
				}
			}
			ref, err := imageref.Parse(args[0], reg.nameOptions()...)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if raw || config {
				get := inspect.Manifest
				if config {
					get = inspect.Config
				}
				b, err := get(ctx, ref, want, reg.remoteOptions(ctx)...)
				if err != nil {
					return err
				}
				_, err = g.stdout.Write(b)
				return err
			}
			s, err := inspect.Load(ctx, ref, reg.remoteOptions(ctx)...)
			if err != nil {
				return err
			}
			if want != nil {
				if err := keepPlatform(s, *want); err != nil {
					return err
				}
			}
			if asJSON {
				return printJSON(g.stdout, s)
			}
			return printSummary(g.stdout, s)
		},
	}
	reg.register(cmd.Flags())
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	f.BoolVar(&raw, "raw", false, "print the manifest bytes exactly as served")
	f.BoolVar(&config, "config", false, "print the config blob")
	f.StringVar(&platform, "platform", "", "os/arch[/variant] to pick from an index")
	return cmd
}

// keepPlatform drops the images of other platforms from a summary.
func keepPlatform(s *image.Summary, want v1.Platform) error {
	var kept []image.ManifestSummary
	var have []string
	for _, m := range s.Manifests {
		have = append(have, m.Platform)
		if p, err := v1.ParsePlatform(m.Platform); err == nil && p.Satisfies(want) {
			kept = append(kept, m)
		}
	}
	if len(kept) == 0 {
		return fmt.Errorf("%s has no %s image (it has %v)", s.Reference, want.String(), have)
	}
	s.Manifests = kept
	return nil
}
