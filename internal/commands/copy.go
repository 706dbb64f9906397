package commands

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/foreignlayers/fl/pkg/imageref"
	"github.com/foreignlayers/fl/pkg/mirror"
	"github.com/foreignlayers/fl/pkg/progress"
	"github.com/foreignlayers/fl/pkg/publish"
	"github.com/foreignlayers/fl/pkg/source"
)

func newCopy(g *globals) *cobra.Command {
	var (
		reg         registryFlags
		materialize bool
		stripURLs   bool
		asJSON      bool
		jobs        int
	)
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy an image or index between registries and OCI layouts, foreign layers and all",
		Long: `Copy an image or index, every platform, between registries, or to and
from oci-layout:DIR. Blobs the destination has are skipped; on one registry
they are mounted across repositories.

  (default)      foreign layers stay foreign: the manifests are copied as
                 they are, and the digest does not change.
  --materialize  download every foreign layer (verified) and upload it as a
                 blob; the manifests keep their bytes, so the digest and any
                 signatures survive, and clients find the blobs in the
                 destination registry. The destination must accept layer
                 URLs.
  --strip-urls   for destinations that refuse layer URLs: rewrite foreign
                 layers as ordinary layers without urls, upload their
                 content, and push new manifests. The digest changes.

stdout gets the destination reference by digest.`,
		Example: `  fl copy registry.example.com/ubuntu:24.04 mirror.internal/ubuntu:24.04 --materialize
  fl copy registry.example.com/ubuntu:24.04 oci-layout:./airgap:ubuntu --materialize
  fl copy oci-layout:./airgap:ubuntu registry.airgap/ubuntu:24.04 --strip-urls`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if materialize && stripURLs {
				return fmt.Errorf("--materialize and --strip-urls do not go together: --strip-urls uploads the content too")
			}
			ctx := cmd.Context()
			if err := reg.prepare(cmd.InOrStdin(), g.stderr); err != nil {
				return err
			}
			src, err := imageref.Parse(args[0], reg.nameOptions()...)
			if err != nil {
				return err
			}
			dst, err := imageref.Parse(args[1], reg.nameOptions()...)
			if err != nil {
				return err
			}
			art, err := source.Load(ctx, src, source.Options{Remote: reg.remoteOptions(ctx)})
			if err != nil {
				return err
			}
			bars := progress.New(g.stderr, !g.quiet)
			defer g.logAbove(bars)()
			defer bars.Wait()
			if materialize || stripURLs {
				if err := mirror.Materialize(ctx, art, g.fetcher(ctx, src, &reg, bars)); err != nil {
					return err
				}
			}
			srcDigest := art.Root().Digest
			if stripURLs {
				if art, err = mirror.StripURLs(art); err != nil {
					return err
				}
			}
			var pub publish.Publisher
			if dst.Layout != "" {
				pub = &publish.Layout{Dir: dst.Layout, Tag: dst.Tag}
			} else {
				pub = &publish.Registry{Ref: dst.Registry, Options: reg.remoteOptions(ctx), Jobs: jobs}
			}
			out, err := pub.Publish(ctx, art)
			if err != nil {
				return err
			}
			if d := art.Root().Digest; d != srcDigest {
				g.logger.Warn("the digest changed: layer urls were stripped, so signatures and references by digest to the source do not apply to the copy", "source", srcDigest, "copy", d)
			}
			if asJSON {
				return printJSON(g.stdout, map[string]string{"source": src.String(), "source_digest": srcDigest.String(), "reference": out, "digest": art.Root().Digest.String()})
			}
			_, err = fmt.Fprintln(g.stdout, out)
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&materialize, "materialize", false, "download foreign layers and upload them as blobs, keeping the manifests (and digest)")
	f.BoolVar(&stripURLs, "strip-urls", false, "make foreign layers ordinary layers without urls, for destinations that refuse urls (the digest changes)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.IntVarP(&jobs, "jobs", "j", 4, "blobs uploaded at once")
	reg.register(f)
	return cmd
}
