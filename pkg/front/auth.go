package front

import (
	"bufio"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/foreignlayers/fl/pkg/name"

	"github.com/foreignlayers/fl/pkg/ocierr"
)

// Auth is HTTP basic auth against an htpasswd file of bcrypt hashes, as
// distribution's htpasswd auth reads it.
type Auth struct {
	users map[string][]byte
	// Pulls requires credentials for reads too; otherwise only writes do.
	Pulls bool
	Realm string
}

// LoadHtpasswd reads an htpasswd file (`htpasswd -B` writes bcrypt).
func LoadHtpasswd(path string, o AuthOptions) (*Auth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--htpasswd: %w", err)
	}
	defer f.Close()
	a := &Auth{users: map[string][]byte{}, Realm: "fl"}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("--htpasswd %s line %d: expected user:hash", path, n)
		}
		if !strings.HasPrefix(hash, "$2") {
			return nil, fmt.Errorf("--htpasswd %s line %d: user %s: only bcrypt hashes are accepted (htpasswd -B)", path, n, user)
		}
		a.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--htpasswd %s: %w", path, err)
	}
	if len(a.users) == 0 {
		return nil, fmt.Errorf("--htpasswd %s has no users", path)
	}
	a.Pulls = o.Pulls
	return a, nil
}

// valid reports whether the request carries a known user and password.
func (a *Auth) valid(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	hash, known := a.users[user]
	if !known {
		// Spend the same time as for a known user.
		_ = bcrypt.CompareHashAndPassword([]byte("$2a$10$7EqJtq98hPqEX7fNZaFWoO5gN7ckD3DCpkHd7W6yK1dCq3ZkM2ZiS"), []byte(pass))
		return false
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(pass)) == nil
}

// allow checks a request; it answers 401 itself and returns false when
// credentials are needed and missing. The /v2/ ping always challenges a
// request without valid credentials, so that clients learn to send them;
// with anonymous pulls allowed, a client that has none goes on without.
func (a *Auth) Allow(w http.ResponseWriter, r *http.Request, acc Access) bool {
	if a == nil {
		return true
	}
	if acc.Action == "pull" && !a.Pulls {
		return true
	}
	if a.valid(r) {
		return true
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", a.Realm))
	ocierr.Write(w, ocierr.Unauthorized, "authentication required", nil)
	return false
}

// Access is what a request asks of a repository.
type Access struct {
	Repo    name.Repository
	Action  string
	Catalog bool
}

// ServeToken is the token endpoint (TEMPORARY stub until the token flow lands).
func (a *Auth) ServeToken(w http.ResponseWriter, r *http.Request) {
	ocierr.Write(w, ocierr.Unsupported, "no token endpoint", nil)
}

// Authenticated reports whether r carries valid credentials.
func (a *Auth) Authenticated(r *http.Request) bool { return a == nil || a.valid(r) }

// Reload re-reads the htpasswd file (TEMPORARY stub).
func (a *Auth) Reload() error { return nil }

// AuthOptions configure an Auth (TEMPORARY stub).
type AuthOptions struct {
	Pulls  bool
	Realm  string
	Key    []byte
	Logger *slog.Logger
}
