package commands

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/pflag"

	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/imageref"
	"github.com/foreignlayers/fl/pkg/mirror"
	"github.com/foreignlayers/fl/pkg/progress"
	"github.com/foreignlayers/fl/pkg/source"
)

// registryFlags are the flags of commands that talk to registries.
type registryFlags struct {
	insecure bool
}

func (r *registryFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&r.insecure, "insecure", false, "allow plain http and unverified TLS for registries (localhost and 127.0.0.1 use http anyway)")
}

func (r *registryFlags) nameOptions() []name.Option {
	if r.insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// remoteOptions authenticate with the docker config and credential
// helpers, as docker, crane and skopeo do.
func (r *registryFlags) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithUserAgent("fl/" + version()),
	}
}

// fetchClient is the client for layer URLs: never the registry's
// credentials.
func (g *globals) fetchClient() *fetch.Client {
	return fetch.New(fetch.WithLogger(g.logger), fetch.WithUserAgent(fmt.Sprintf("fl/%s", version())))
}

// fetcher downloads foreign layers for copy and save: from the source
// layout, then the source registry, then the layers' URLs.
func (g *globals) fetcher(ctx context.Context, src imageref.Ref, reg *registryFlags, bars *progress.Reporter) *mirror.Fetcher {
	f := &mirror.Fetcher{Client: g.fetchClient(), Remote: reg.remoteOptions(ctx), Progress: bars, Logger: g.logger}
	if src.Registry != nil {
		repo := src.Registry.Context()
		f.Registry = &repo
	} else {
		f.Local = source.LayoutBlobs(src.Layout)
	}
	return f
}
