package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/foreignlayers/fl/pkg/imageref"
	"github.com/foreignlayers/fl/pkg/mirror"
	"github.com/foreignlayers/fl/pkg/progress"
	"github.com/foreignlayers/fl/pkg/publish"
	"github.com/foreignlayers/fl/pkg/source"
)

type copyOptions struct {
	reg         registryFlags
	materialize bool
	stripURLs   bool
	allTags     bool
	platform    string
	asJSON      bool
	jobs        int
}

func newCopy(g *globals) *cobra.Command {
	o := &copyOptions{}
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy an image or index between registries and OCI layouts, foreign layers and all",
		Long: `Copy an image or index, every platform (or one, with --platform), between
registries, or to and from OCI layouts (oci-layout:DIR, oci:DIR[:TAG],
ocidir://DIR[:TAG]). Blobs the destination has are skipped; on one
registry they are mounted across repositories. --all-tags copies every
tag of the repository SRC into the repository DST.

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

stdout gets the destination reference by digest; with --all-tags, one
line per tag that names it: DST:TAG@sha256:... A manifest the destination
registry already holds under the same reference and digest is not pushed
again (a HEAD first, as crane does), so a repeated copy changes nothing.`,
		Example: `  fl copy registry.example.com/ubuntu:24.04 mirror.internal/ubuntu:24.04 --materialize
  fl copy docker://registry.example.com/ubuntu:24.04 oci:./airgap:ubuntu --materialize
  fl copy oci-layout:./airgap:ubuntu registry.airgap/ubuntu:24.04 --strip-urls
  fl copy --platform linux/arm64 registry.example.com/multi:1 mirror.internal/multi:1-arm64
  fl copy --all-tags registry.example.com/ubuntu mirror.internal/ubuntu`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args[0], args[1]) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.materialize, "materialize", false, "download foreign layers and upload them as blobs, keeping the manifests (and digest)")
	f.BoolVar(&o.stripURLs, "strip-urls", false, "make foreign layers ordinary layers without urls, for destinations that refuse urls (the digest changes)")
	f.BoolVar(&o.allTags, "all-tags", false, "copy every tag of the repository SRC into the repository DST")
	f.StringVar(&o.platform, "platform", "", "os/arch[/variant]: copy only that image of an index")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	f.IntVarP(&o.jobs, "jobs", "j", 4, "blobs uploaded at once")
	o.reg.register(f)
	return cmd
}

func (o *copyOptions) run(cmd *cobra.Command, g *globals, srcArg, dstArg string) error {
	if o.materialize && o.stripURLs {
		return errors.New("--materialize and --strip-urls do not go together: --strip-urls uploads the content too")
	}
	ctx := cmd.Context()
	if err := o.reg.prepare(cmd.InOrStdin(), g.stderr); err != nil {
		return err
	}
	src, err := imageref.Parse(srcArg, o.reg.nameOptions()...)
	if err != nil {
		return err
	}
	dst, err := imageref.Parse(dstArg, o.reg.nameOptions()...)
	if err != nil {
		return err
	}
	opts := source.Options{Remote: o.reg.remoteOptions(ctx)}
	if o.platform != "" {
		if opts.Platform, err = v1.ParsePlatform(o.platform); err != nil {
			return fmt.Errorf("--platform %q: %w", o.platform, err)
		}
	}
	if !o.allTags {
		return o.copyOne(ctx, g, src, dst, opts, "")
	}
	if src.Registry == nil {
		return fmt.Errorf("--all-tags copies a registry repository: %s is a layout", srcArg)
	}
	if hasTagOrDigest(srcArg) || dst.Registry != nil && hasTagOrDigest(dstArg) || dst.Tag != "" || dst.Digest != "" {
		return errors.New("--all-tags copies a whole repository: give SRC and DST without a tag or digest")
	}
	tags, err := source.Tags(ctx, src.Registry.Context(), opts.Remote)
	if err != nil {
		return err
	}
	g.logger.InfoContext(ctx, "copying every tag", "from", src.Registry.Context().String(), "tags", len(tags))
	for _, tag := range tags {
		s, d := src, dst
		s.Registry = src.Registry.Context().Tag(tag)
		if d.Registry != nil {
			d.Registry = dst.Registry.Context().Tag(tag)
		} else {
			d.Tag = tag
		}
		if err := o.copyOne(ctx, g, s, d, opts, tag); err != nil {
			return fmt.Errorf("tag %s: %w", tag, err)
		}
	}
	return nil
}

// hasTagOrDigest reports whether a registry reference names a tag or
// digest itself (name.ParseReference would add :latest).
func hasTagOrDigest(s string) bool {
	s = strings.TrimPrefix(s, imageref.DockerPrefix)
	return strings.Contains(s, "@") || strings.LastIndex(s, ":") > strings.LastIndex(s, "/")
}

// copyOne copies src to dst. tag, under --all-tags, is the tag copied:
// the line printed names it (DST:TAG@DIGEST, as crane and skopeo do).
func (o *copyOptions) copyOne(ctx context.Context, g *globals, src, dst imageref.Ref, opts source.Options, tag string) error {
	art, err := source.Load(ctx, src, opts)
	if err != nil {
		return err
	}
	bars := progress.New(g.stderr, !g.quiet)
	restore := g.logAbove(bars)
	out, srcDigest, err := func() (string, v1.Hash, error) {
		if o.materialize || o.stripURLs {
			if err := mirror.Materialize(ctx, art, g.fetcher(ctx, src, &o.reg, bars)); err != nil {
				return "", v1.Hash{}, err
			}
		}
		srcDigest := art.Root().Digest
		if o.stripURLs {
			if art, err = mirror.StripURLs(art); err != nil {
				return "", srcDigest, err
			}
		}
		var pub publish.Publisher
		if dst.Layout != "" {
			pub = &publish.Layout{Dir: dst.Layout, Tag: dst.Tag}
		} else {
			pub = &publish.Registry{Ref: dst.Registry, Options: o.reg.remoteOptions(ctx), Jobs: o.jobs, SkipExisting: true}
		}
		out, err := pub.Publish(ctx, art)
		return out, srcDigest, err
	}()
	bars.Wait()
	restore()
	if err != nil {
		return err
	}
	if d := art.Root().Digest; d != srcDigest {
		g.logger.WarnContext(ctx, "the digest changed: layer urls were stripped, so signatures and references by digest to the source do not apply to the copy", "source", srcDigest, "copy", d)
	}
	if tag != "" {
		// One line per tag: DST:TAG@DIGEST says which tag it was.
		out = dst.String() + "@" + art.Root().Digest.String()
	}
	if o.asJSON {
		return printJSON(g.stdout, map[string]string{"source": src.String(), "source_digest": srcDigest.String(), "reference": out, "digest": art.Root().Digest.String()})
	}
	_, err = fmt.Fprintln(g.stdout, out)
	return err
}
