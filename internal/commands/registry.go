package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/foreignlayers/fl/pkg/credentials"
	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/imageref"
	"github.com/foreignlayers/fl/pkg/mirror"
	"github.com/foreignlayers/fl/pkg/progress"
	"github.com/foreignlayers/fl/pkg/source"
)

// registryFlags are the flags of commands that talk to registries.
type registryFlags struct {
	insecure bool
	authFile string
	creds    string
	keychain authn.Keychain // set by remoteOptions
}

func (r *registryFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&r.insecure, "insecure", false, "allow plain http and unverified TLS for registries (localhost and 127.0.0.1 use http anyway)")
	fs.StringVar(&r.authFile, "authfile", "", "read registry credentials from this docker-config-format file (default: the docker config, else $REGISTRY_AUTH_FILE)")
	fs.StringVar(&r.creds, "creds", "", "USER[:PASS] for the registries this command talks to (asked for on the terminal when :PASS is left out)")
}

func (r *registryFlags) nameOptions() []name.Option {
	if r.insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// credentialOptions reads --creds and --authfile, asking for a missing
// password on the terminal.
func (r *registryFlags) credentialOptions(stdin io.Reader, stderr io.Writer) (credentials.Options, error) {
	o := credentials.Options{AuthFile: r.authFile}
	if r.creds == "" {
		return o, nil
	}
	if r.authFile != "" {
		return o, errors.New("--creds and --authfile do not go together: give one")
	}
	user, pass, ok := strings.Cut(r.creds, ":")
	if user == "" {
		return o, fmt.Errorf("--creds %q: expected USER[:PASS]", r.creds)
	}
	if !ok {
		p, err := askPassword(stdin, stderr, "Password for "+user+": ")
		if err != nil {
			return o, fmt.Errorf("--creds %s without :PASS: %w", user, err)
		}
		pass = p
	}
	o.Username, o.Password = user, pass
	return o, nil
}

// askPassword reads a password from stdin when it is a terminal, without
// echo.
func askPassword(stdin io.Reader, stderr io.Writer, prompt string) (string, error) {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("standard input is not a terminal to ask for the password on")
	}
	fmt.Fprint(stderr, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(stderr)
	return string(b), err
}

// remoteOptions authenticate with --creds, --authfile, or the docker
// config and credential helpers, as docker, crane and skopeo do.
func (r *registryFlags) remoteOptions(ctx context.Context) []remote.Option {
	kc := r.keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent("fl/" + version()),
	}
}

// prepare reads the credential flags; every command that talks to a
// registry calls it before anything else.
func (r *registryFlags) prepare(stdin io.Reader, stderr io.Writer) error {
	o, err := r.credentialOptions(stdin, stderr)
	if err != nil {
		return err
	}
	r.keychain, err = credentials.Keychain(o)
	return err
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
