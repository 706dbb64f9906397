package commands

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/spf13/cobra"

	"github.com/foreignlayers/fl/pkg/image"
	"github.com/foreignlayers/fl/pkg/imageref"
	"github.com/foreignlayers/fl/pkg/mirror"
	"github.com/foreignlayers/fl/pkg/progress"
	"github.com/foreignlayers/fl/pkg/publish"
	"github.com/foreignlayers/fl/pkg/source"
)

func newSave(g *globals) *cobra.Command {
	var (
		reg       registryFlags
		out       string
		format    string
		platform  string
		stripURLs bool
	)
	cmd := &cobra.Command{
		Use:   "save REF -o FILE",
		Short: "Export an image, foreign layers downloaded and verified, for docker load or as an OCI layout",
		Long: `Export an image with the content of its foreign layers, downloaded and
verified: a tarball that docker load accepts (--format docker, the default),
or an OCI image layout directory (--format oci).

The manifests are kept as they are, urls included, so digests and
signatures survive. Some tools still go to the URLs when they have the
bytes (skopeo's oci: transport does); --strip-urls writes the layers as
ordinary layers instead, and the digest changes.

A docker tarball holds one platform: --platform picks it from an index
(default linux/amd64). An OCI layout holds every platform unless
--platform picks one.`,
		Example: `  fl save registry.example.com/ubuntu:24.04 -o ubuntu.tar && docker load -i ubuntu.tar
  fl save registry.example.com/multi:1 --format oci -o ./multi-layout`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if out == "" {
				return errors.New("say where to write: -o FILE")
			}
			if format != "docker" && format != "oci" {
				return fmt.Errorf("--format %q: use docker or oci", format)
			}
			if err := reg.prepare(cmd.InOrStdin(), g.stderr); err != nil {
				return err
			}
			ref, err := imageref.Parse(args[0], reg.nameOptions()...)
			if err != nil {
				return err
			}
			opts := source.Options{Remote: reg.remoteOptions(ctx)}
			if platform != "" {
				if opts.Platform, err = v1.ParsePlatform(platform); err != nil {
					return fmt.Errorf("--platform %q: %w", platform, err)
				}
			}
			art, err := source.Load(ctx, ref, opts)
			if err != nil {
				return err
			}
			if format == "docker" && len(art.Manifests) > 1 {
				opts.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
				if art, err = source.Load(ctx, ref, opts); err != nil {
					return err
				}
			}
			bars := progress.New(g.stderr, !g.quiet)
			defer g.logAbove(bars)()
			defer bars.Wait()
			if err := mirror.Materialize(ctx, art, g.fetcher(ctx, ref, &reg, bars)); err != nil {
				return err
			}
			if stripURLs {
				before := art.Root().Digest
				if art, err = mirror.StripURLs(art); err != nil {
					return err
				}
				if art.Root().Digest != before {
					g.logger.Warn("the digest changed: layer urls were stripped", "source", before, "saved", art.Root().Digest)
				}
			}
			if format == "oci" {
				res, err := (&publish.Layout{Dir: out, Tag: tagOf(ref)}).Publish(ctx, art)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(g.stdout, res)
				return err
			}
			if err := writeDockerTarball(ref, art.Manifests[0], out); err != nil {
				return err
			}
			_, err = fmt.Fprintln(g.stdout, out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", "file (docker) or directory (oci) to write")
	f.StringVar(&format, "format", "docker", "docker (a tarball for docker load) or oci (an OCI image layout directory)")
	f.StringVar(&platform, "platform", "", "os/arch[/variant] to pick from an index")
	f.BoolVar(&stripURLs, "strip-urls", false, "write foreign layers as ordinary layers without urls, for tools that would still go to the URLs (the digest changes)")
	reg.register(f)
	return cmd
}

func tagOf(ref imageref.Ref) string {
	if t, ok := ref.Registry.(name.Tag); ok {
		return t.TagStr()
	}
	return ref.Tag
}

// writeDockerTarball writes the image as `docker save` does, into a
// temporary file renamed into place once complete.
func writeDockerTarball(ref imageref.Ref, m *image.Manifest, out string) error {
	img, err := m.Image()
	if err != nil {
		return err
	}
	var tag name.Reference
	if ref.Registry != nil {
		tag = ref.Registry
	} else if tag, err = name.NewTag("localhost/" + filepath.Base(ref.Layout) + ":" + orLatest(ref.Tag)); err != nil {
		return err
	}
	tmp, err := publish.CreateTemp(filepath.Dir(out), ".fl-save-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	werr := tarball.Write(tag, img, tmp)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("writing %s: %w", out, werr)
	}
	return os.Rename(tmp.Name(), out)
}

func orLatest(t string) string {
	if t == "" {
		return "latest"
	}
	return t
}
