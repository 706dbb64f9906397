package credentials

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
)

// WritePath is the file fl login and fl logout change: authFile if set;
// otherwise the file reads look at first, as authn.DefaultKeychain
// orders them: the docker config if it exists, else REGISTRY_AUTH_FILE
// if set, else a new docker config.
func WritePath(authFile string) string {
	if authFile != "" {
		return authFile
	}
	docker := DockerConfigPath()
	if _, err := os.Stat(docker); err == nil {
		return docker
	}
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" {
		return filepath.Clean(p)
	}
	return docker
}

// DockerConfigPath is $DOCKER_CONFIG/config.json, else
// ~/.docker/config.json.
func DockerConfigPath() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, config.ConfigFileName)
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker", config.ConfigFileName)
}

func load(path string) (*configfile.ConfigFile, error) {
	cf := configfile.New(path)
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return cf, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := cf.LoadFromReader(f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cf, nil
}

// Store keeps user and password for registry in the file at path, or in
// the credential helper its credHelpers or credsStore name, as docker
// login does; it returns the helper's name, or "" for the file. The file
// is written whole, with mode 0600.
func Store(path, registry, user, password string) (helper string, err error) {
	cf, err := load(path)
	if err != nil {
		return "", err
	}
	key := authKey(registry)
	ac := types.AuthConfig{Username: user, Password: password, ServerAddress: key}
	helper = cf.CredentialHelpers[key]
	if helper == "" {
		helper = cf.CredentialsStore
	}
	if helper == "" {
		// The file itself (docker's file store would also print a warning
		// on the process's stderr, past fl's logger).
		cf.AuthConfigs[key] = ac
	} else if err := cf.GetCredentialsStore(key).Store(ac); err != nil {
		return helper, fmt.Errorf("storing credentials for %s in docker-credential-%s: %w", registry, helper, err)
	}
	return helper, cf.Save()
}

// Erase removes registry's credentials; it reports whether there were
// any.
func Erase(path, registry string) (bool, error) {
	cf, err := load(path)
	if err != nil {
		return false, err
	}
	key := authKey(registry)
	st := cf.GetCredentialsStore(key)
	have, err := st.Get(key)
	if err != nil {
		return false, fmt.Errorf("reading credentials for %s: %w", registry, err)
	}
	have.ServerAddress = ""
	if have == (types.AuthConfig{}) {
		return false, nil
	}
	if err := st.Erase(key); err != nil {
		return false, fmt.Errorf("removing credentials for %s: %w", registry, err)
	}
	return true, cf.Save()
}
