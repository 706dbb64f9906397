package credentials

import (
	"fmt"
	"os"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// Options say where credentials come from. The zero value reads them as
// docker and crane do (authn.DefaultKeychain).
type Options struct {
	// AuthFile is a docker-config-format file to read instead of the
	// default locations (podman's and skopeo's --authfile).
	AuthFile string
	// Username and Password, when Username is set, are used for every
	// registry (skopeo's --creds).
	Username, Password string
}

// Keychain returns the keychain Options describe.
func Keychain(o Options) (authn.Keychain, error) {
	switch {
	case o.Username != "":
		return static{authn.FromConfig(authn.AuthConfig{Username: o.Username, Password: o.Password})}, nil
	case o.AuthFile != "":
		if _, err := os.Stat(o.AuthFile); err != nil {
			return nil, fmt.Errorf("--authfile: %w", err)
		}
		return fileKeychain{path: o.AuthFile}, nil
	}
	return authn.DefaultKeychain, nil
}

// static gives the same credentials to every registry.
type static struct{ auth authn.Authenticator }

func (s static) Resolve(authn.Resource) (authn.Authenticator, error) { return s.auth, nil }

// fileKeychain reads one docker-config-format file, honouring its
// credHelpers and credsStore.
type fileKeychain struct{ path string }

func (k fileKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	f, err := os.Open(k.path)
	if err != nil {
		return nil, fmt.Errorf("--authfile: %w", err)
	}
	defer f.Close()
	cf, err := config.LoadFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("--authfile %s: %w", k.path, err)
	}
	cf.Filename = k.path
	for _, key := range []string{target.String(), target.RegistryStr()} {
		cfg, err := cf.GetAuthConfig(authKey(key))
		if err != nil {
			return nil, fmt.Errorf("--authfile %s: %s: %w", k.path, key, err)
		}
		cfg.ServerAddress = ""
		if cfg != (types.AuthConfig{}) {
			return authn.FromConfig(authn.AuthConfig{
				Username: cfg.Username, Password: cfg.Password, Auth: cfg.Auth,
				IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}

// authKey is the key docker uses for a registry in its config: Docker
// Hub's is historical.
func authKey(registry string) string {
	if registry == name.DefaultRegistry || registry == "docker.io" {
		return authn.DefaultAuthKey
	}
	return registry
}
