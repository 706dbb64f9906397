package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/foreignlayers/fl/pkg/build"
	"github.com/foreignlayers/fl/pkg/image"
	"github.com/foreignlayers/fl/pkg/imageref"
	"github.com/foreignlayers/fl/pkg/progress"
	"github.com/foreignlayers/fl/pkg/publish"
)

type buildOptions struct {
	reg              registryFlags
	tag              string
	file             string
	output           string
	layers           []string
	base             string
	platform         string
	entrypoint       []string
	cmd              []string
	env              []string
	workdir          string
	user             string
	labels           []string
	annotations      []string
	format           string
	nondistributable bool
	checksums        []string
	checksumsOpt     bool
	asJSON           bool
	jobs             int
}

func newBuild(g *globals) *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build -t REF --layer URL [--layer URL|PATH ...] [flags]",
		Short: "Build and push an image whose layers are URLs, reading each URL once",
		Long: `Build an image whose layers live at URLs (foreign layers), and push it.

Each --layer URL is read once, as a stream: fl computes the layer's digest
and size, and the diff_id of its uncompressed tar, and checks that it is a
tar archive, gzip- or zstd-compressed or not at all. Nothing is written to
disk. A --layer may also be a local file or directory: it is pushed as an
ordinary blob (a directory is tarred reproducibly).

Give mirrors of one layer separated by commas; pin a digest with
URL#sha256=HEX; check against a published SHA256SUMS with --checksums.

stdout gets exactly the pushed REGISTRY/REPO@sha256:HEX (or JSON with --json).`,
		Example: `  fl build -t localhost:5000/ubuntu:noble \
    --layer https://cdimage.ubuntu.com/ubuntu-base/releases/24.04/release/ubuntu-base-24.04.3-base-amd64.tar.gz \
    --checksums https://cdimage.ubuntu.com/ubuntu-base/releases/24.04/release/SHA256SUMS \
    --cmd /bin/bash

  fl build -t registry.example.com/app:1 --base registry.example.com/ubuntu:noble --layer ./app --entrypoint /app/run
  fl build -f build.yaml -t registry.example.com/multi:1 --format oci
  fl build --output oci-layout:./out --layer https://example.com/rootfs.tar.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, g) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.tag, "tag", "t", "", "image reference to push to, REGISTRY/REPO[:TAG]")
	f.StringVarP(&o.file, "file", "f", "", "YAML build file describing one or more platforms (docs/BUILDFILE.md)")
	f.StringVar(&o.output, "output", "", "write to oci-layout:DIR instead of pushing")
	f.StringArrayVar(&o.layers, "layer", nil, "a layer: URL[,MIRROR...][#sha256=HEX], or a local file or directory (repeatable, in order)")
	f.StringVar(&o.base, "base", "", "base image to start from; its layers stay as they are")
	f.StringVar(&o.platform, "platform", "", "os/arch[/variant] of the image (default linux/amd64, or the base's)")
	f.StringArrayVar(&o.entrypoint, "entrypoint", nil, `entrypoint: a JSON array, or one argument per flag`)
	f.StringArrayVar(&o.cmd, "cmd", nil, `cmd: a JSON array, or one argument per flag`)
	f.StringArrayVar(&o.env, "env", nil, "environment variable KEY=VALUE (repeatable)")
	f.StringVar(&o.workdir, "workdir", "", "working directory")
	f.StringVar(&o.user, "user", "", "user (and group) to run as")
	f.StringArrayVar(&o.labels, "label", nil, "config label KEY=VALUE (repeatable)")
	f.StringArrayVar(&o.annotations, "annotation", nil, "manifest annotation KEY=VALUE (repeatable)")
	f.StringVar(&o.format, "format", "docker", "manifest format: docker or oci")
	f.BoolVar(&o.nondistributable, "nondistributable", false, "with --format oci, use the (deprecated) OCI non-distributable layer types")
	f.StringArrayVar(&o.checksums, "checksums", nil, "URL or path of a published checksum file (SHA256SUMS or FILE.sha256) to check layers against")
	f.BoolVar(&o.checksumsOpt, "checksums-optional", false, "let a URL layer that no --checksums file lists through, with a warning (default: an error)")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	f.IntVarP(&o.jobs, "jobs", "j", min(runtime.GOMAXPROCS(0), 4), "layers to read at once")
	o.reg.register(f)
	return cmd
}

func (o *buildOptions) run(cmd *cobra.Command, g *globals) error {
	ctx := cmd.Context()
	if err := o.reg.prepare(cmd.InOrStdin(), g.stderr); err != nil {
		return err
	}
	pub, refStr, err := o.publisher(ctx)
	if err != nil {
		return err
	}
	spec, err := o.spec(cmd)
	if err != nil {
		return err
	}
	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	if r, ok := pub.(*publish.Registry); ok {
		// Before a single layer URL is read: the registry answers, and
		// the credentials may push to the repository.
		if err := publish.CheckPush(ctx, r.Ref, o.reg.keychain, http.DefaultTransport); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "fl-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	bars := progress.New(g.stderr, !g.quiet)
	restore := g.logAbove(bars)
	b := &build.Builder{
		Fetch:    g.fetchClient(),
		Remote:   o.reg.remoteOptions(ctx),
		NameOpts: o.reg.nameOptions(),
		Progress: bars,
		Logger:   g.logger,
		TempDir:  tmp,
		Created:  created,
		Jobs:     o.jobs,
	}
	art, err := b.Build(ctx, spec)
	bars.Wait()
	restore()
	if err != nil {
		return err
	}
	g.logger.InfoContext(ctx, "publishing", "to", refStr, "digest", art.Root().Digest)
	out, err := pub.Publish(ctx, art)
	if err != nil {
		return err
	}
	if o.asJSON {
		return printJSON(g.stdout, art.Summary(out))
	}
	_, err = fmt.Fprintln(g.stdout, out)
	return err
}

// publisher checks where the image goes before anything is read, so a
// bad reference fails at once.
func (o *buildOptions) publisher(ctx context.Context) (publish.Publisher, string, error) {
	if o.output != "" {
		ref, err := imageref.Parse(o.output)
		if err != nil || ref.Layout == "" {
			return nil, "", fmt.Errorf("--output %q: expected oci-layout:DIR", o.output)
		}
		tag := ref.Tag
		if o.tag != "" {
			t, err := name.NewTag(o.tag, o.reg.nameOptions()...)
			if err != nil {
				return nil, "", fmt.Errorf("-t %q is not a valid image reference: %v", o.tag, err)
			}
			tag = t.TagStr()
		}
		return &publish.Layout{Dir: ref.Layout, Tag: tag}, o.output, nil
	}
	if o.tag == "" {
		return nil, "", fmt.Errorf("say where the image goes: -t REGISTRY/REPO[:TAG], or --output oci-layout:DIR")
	}
	ref, err := imageref.Parse(o.tag, o.reg.nameOptions()...)
	if err != nil {
		return nil, "", err
	}
	if ref.Layout != "" {
		return &publish.Layout{Dir: ref.Layout, Tag: ref.Tag}, o.tag, nil
	}
	return &publish.Registry{Ref: ref.Registry, Options: o.reg.remoteOptions(ctx), Jobs: o.jobs}, o.tag, nil
}

// perPlatformFlags may not be mixed with -f: the build file says them.
var perPlatformFlags = []string{"layer", "base", "platform", "entrypoint", "cmd", "env", "workdir", "user", "label"}

// spec assembles the build from -f or from the flags.
func (o *buildOptions) spec(cmd *cobra.Command) (*build.Spec, error) {
	format, err := image.ParseFormat(o.format)
	if err != nil {
		return nil, err
	}
	annotations, err := keyValues("--annotation", o.annotations)
	if err != nil {
		return nil, err
	}
	if o.file != "" {
		for _, f := range perPlatformFlags {
			if cmd.Flags().Changed(f) {
				return nil, fmt.Errorf("--%s cannot be used with -f: say it in the build file", f)
			}
		}
		s, err := build.LoadFile(o.file)
		if err != nil {
			return nil, err
		}
		if cmd.Flags().Changed("format") || s.Format == "" {
			s.Format = format
		}
		s.Nondistributable = s.Nondistributable || o.nondistributable
		s.Checksums = append(s.Checksums, o.checksums...)
		s.ChecksumsOptional = s.ChecksumsOptional || o.checksumsOpt
		for k, v := range annotations {
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			s.Annotations[k] = v
		}
		return s, s.Validate()
	}
	labels, err := keyValues("--label", o.labels)
	if err != nil {
		return nil, err
	}
	p := build.PlatformSpec{
		Platform: o.platform, Base: o.base, Env: o.env, WorkingDir: o.workdir, User: o.user, Labels: labels,
	}
	if p.Entrypoint, err = argv("--entrypoint", o.entrypoint); err != nil {
		return nil, err
	}
	if p.Cmd, err = argv("--cmd", o.cmd); err != nil {
		return nil, err
	}
	for _, l := range o.layers {
		ls, err := build.ParseLayerFlag(l)
		if err != nil {
			return nil, err
		}
		p.Layers = append(p.Layers, ls)
	}
	s := &build.Spec{
		Format: format, Nondistributable: o.nondistributable, Annotations: annotations,
		Checksums: o.checksums, ChecksumsOptional: o.checksumsOpt, Platforms: []build.PlatformSpec{p},
	}
	return s, s.Validate()
}

// argv reads --entrypoint or --cmd: one JSON array, or one argument per
// flag.
func argv(flag string, vals []string) ([]string, error) {
	if len(vals) == 1 && strings.HasPrefix(strings.TrimSpace(vals[0]), "[") {
		var out []string
		if err := json.Unmarshal([]byte(vals[0]), &out); err != nil {
			return nil, fmt.Errorf("%s %s: not a JSON array of strings: %v", flag, vals[0], err)
		}
		return out, nil
	}
	return vals, nil
}

func keyValues(flag string, vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range vals {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: expected KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

// sourceDateEpoch is the image's created time: SOURCE_DATE_EPOCH, else
// the Unix epoch, so the same inputs give the same digest.
func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a whole number of seconds", v)
	}
	return time.Unix(n, 0).UTC(), nil
}
