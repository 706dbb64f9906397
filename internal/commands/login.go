package commands

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/foreignlayers/fl/pkg/credentials"
)

func newLogin(g *globals) *cobra.Command {
	var (
		reg           registryFlags
		user, pass    string
		passwordStdin bool
	)
	cmd := &cobra.Command{
		Use:   "login REGISTRY -u USER [-p PASS | --password-stdin]",
		Short: "Check credentials against a registry and keep them in the docker config",
		Long: `Log in to a registry, as docker login, podman login and crane auth login do:
fl asks the registry whether the credentials work, then writes them to
--authfile, or else to the file fl reads first: the docker config
($DOCKER_CONFIG/config.json or ~/.docker/config.json) when it exists,
$REGISTRY_AUTH_FILE when that is set, or a new docker config. A
credential helper named in that file (credHelpers, credsStore) keeps them
instead. Without -p or --password-stdin the password is asked for on the
terminal.`,
		Example: `  fl login registry.example.com -u alice --password-stdin < token.txt
  fl login localhost:5000 -u ci -p "$PASS" --authfile ./auth.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := registryArg(args[0], reg.nameOptions())
			if err != nil {
				return err
			}
			if user == "" {
				return errors.New("say who: -u USER")
			}
			switch {
			case passwordStdin && pass != "":
				return errors.New("-p and --password-stdin do not go together")
			case passwordStdin:
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<10))
				if err != nil {
					return fmt.Errorf("--password-stdin: %w", err)
				}
				pass = strings.TrimRight(string(b), "\r\n")
			case pass == "":
				if pass, err = askPassword(cmd.InOrStdin(), g.stderr, "Password for "+user+"@"+r.RegistryStr()+": "); err != nil {
					return fmt.Errorf("no password: give -p or --password-stdin (%w)", err)
				}
			}
			if pass == "" {
				return errors.New("the password is empty")
			}
			auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: pass})
			if err := credentials.Check(ctx, r, auth, http.DefaultTransport); err != nil {
				return fmt.Errorf("not logged in: %w", err)
			}
			path := credentials.WritePath(reg.authFile)
			helper, err := credentials.Store(path, r.RegistryStr(), user, pass)
			if err != nil {
				return err
			}
			if helper != "" {
				g.logger.InfoContext(ctx, "logged in", "registry", r.RegistryStr(), "user", user, "credential-helper", "docker-credential-"+helper)
				return nil
			}
			g.logger.InfoContext(ctx, "logged in; the password is kept unencrypted (a credential helper would keep it safer)", "registry", r.RegistryStr(), "user", user, "file", path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&user, "username", "u", "", "user name")
	f.StringVarP(&pass, "password", "p", "", "password (visible to other users in the process list: prefer --password-stdin)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	f.BoolVar(&reg.insecure, "insecure", false, "allow plain http and unverified TLS (localhost and 127.0.0.1 use http anyway)")
	f.StringVar(&reg.authFile, "authfile", "", "write to this docker-config-format file instead")
	return cmd
}

func newLogout(g *globals) *cobra.Command {
	var authFile string
	cmd := &cobra.Command{
		Use:   "logout REGISTRY",
		Short: "Remove a registry's credentials from the docker config",
		Long: `Remove the credentials fl login (or docker login) kept for a registry, from
--authfile or the file fl login would write, or from its credential helper.`,
		Example: `  fl logout registry.example.com`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := registryArg(args[0], nil)
			if err != nil {
				return err
			}
			path := credentials.WritePath(authFile)
			had, err := credentials.Erase(path, r.RegistryStr())
			if err != nil {
				return err
			}
			if !had {
				g.logger.WarnContext(cmd.Context(), "not logged in", "registry", r.RegistryStr(), "file", path)
				return nil
			}
			g.logger.InfoContext(cmd.Context(), "logged out", "registry", r.RegistryStr(), "file", path)
			return nil
		},
	}
	cmd.Flags().StringVar(&authFile, "authfile", "", "remove from this docker-config-format file instead")
	return cmd
}

// registryArg reads a registry host, with or without a scheme or a
// trailing slash, as docker login takes it.
func registryArg(s string, opts []name.Option) (name.Registry, error) {
	host := strings.TrimSuffix(s, "/")
	for _, p := range []string{"https://", "http://", "docker://"} {
		host = strings.TrimPrefix(host, p)
	}
	if host == "" || strings.Contains(host, "/") {
		return name.Registry{}, fmt.Errorf("%q is not a registry host: give HOST[:PORT], e.g. registry.example.com or localhost:5000", s)
	}
	r, err := name.NewRegistry(host, opts...)
	if err != nil {
		return name.Registry{}, fmt.Errorf("%q is not a registry host: %w", s, err)
	}
	return r, nil
}
