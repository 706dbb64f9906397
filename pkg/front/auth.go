package front

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/ocierr"
)

// The actions a request may need on a repository, as token scopes name
// them.
const (
	ActionPull   = "pull"
	ActionPush   = "push"
	ActionDelete = "delete"
)

// tokenService is the service name in challenges and tokens.
const tokenService = "fl"

// Access is what a request needs.
type Access struct {
	// Repo is zero for the /v2/ ping and _catalog.
	Repo name.Repository
	// Action is ActionPull, ActionPush or ActionDelete; "" for the ping.
	Action string
	// Catalog marks /v2/_catalog.
	Catalog bool
}

// ping reports whether acc is the /v2/ ping, which needs only valid
// credentials of any kind.
func (acc Access) ping() bool { return acc.Action == "" && !acc.Catalog }

// scope is acc as a token scope, "" when it has none.
func (acc Access) scope() string {
	switch {
	case acc.Catalog:
		return "registry:catalog:*"
	case acc.Repo.IsZero() || acc.Action == "":
		return ""
	}
	return "repository:" + acc.Repo.String() + ":" + acc.Action
}

// AuthOptions configure an Auth.
type AuthOptions struct {
	// Pulls requires credentials for pulls too (--auth-pulls).
	Pulls bool
	// Realm overrides the token realm URL; by default it is
	// <scheme>://<Host>/auth/token from each request.
	Realm string
	// Key signs tokens (HMAC-SHA256, at least 16 bytes); random per
	// process if nil, so tokens die with the process.
	Key    []byte
	Logger *slog.Logger
}

// Auth is fl serve's authentication: users from an htpasswd file of bcrypt
// hashes, and the registry token flow of Docker Hub and distribution's
// token auth. /v2/ challenges clients without credentials to fetch a token
// from /auth/token; requests carry that token, or Basic credentials
// directly. Without Pulls, anonymous clients may pull and list.
type Auth struct {
	path  string
	pulls bool
	realm string
	key   []byte
	log   *slog.Logger
	salt  [32]byte // for the keys of the credential cache
	gate  *gate    // bcrypt slots, handed out fairly across user names
	state atomic.Pointer[htpasswd]

	// compare is bcrypt.CompareHashAndPassword; tests count its calls.
	compare func(hash, password []byte) error
	now     func() time.Time
}

// LoadHtpasswd reads an htpasswd file of bcrypt hashes (`htpasswd -B`).
func LoadHtpasswd(path string, o AuthOptions) (*Auth, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Auth{
		path: path, pulls: o.Pulls, realm: o.Realm, key: o.Key, log: o.Logger,
		gate:    newGate(bcryptSlots()),
		compare: bcrypt.CompareHashAndPassword, now: time.Now,
	}
	if a.key == nil {
		a.key = make([]byte, 32)
		_, _ = rand.Read(a.key)
	} else if len(a.key) < 16 {
		return nil, errors.New("auth: the token key must have at least 16 bytes")
	}
	_, _ = rand.Read(a.salt[:])
	s, err := readHtpasswd(path)
	if err != nil {
		return nil, err
	}
	a.state.Store(s)
	return a, nil
}

// Reload re-reads the htpasswd file (on SIGHUP). On an error the users
// already loaded stay. Cached credential checks are forgotten, and tokens
// of users no longer in the file stop working.
func (a *Auth) Reload() error {
	if a == nil {
		return nil
	}
	s, err := readHtpasswd(a.path)
	if err != nil {
		return err
	}
	a.state.Store(s)
	return nil
}

// Allow reports whether r may do acc. When it may not, Allow has answered
// 401 with a Bearer challenge naming the token realm and the scope needed.
// A nil Auth allows everything.
func (a *Auth) Allow(w http.ResponseWriter, r *http.Request, acc Access) bool {
	if a == nil {
		return true
	}
	id, err := a.identify(r)
	switch {
	case errors.Is(err, errBadCredentials):
		a.log.Info("refused credentials", "user", id.user, "remote", r.RemoteAddr, "path", r.URL.Path)
		a.challenge(w, r, acc, "", "invalid username or password")
		return false
	case errors.Is(err, errBadToken):
		a.challenge(w, r, acc, "invalid_token", "invalid or expired token")
		return false
	case errors.Is(err, errTooManyChecks):
		tooManyChecks(w)
		return false
	case err != nil:
		ocierr.Write(w, ocierr.Unavailable, "checking credentials: "+err.Error(), nil)
		return false
	}
	if a.permits(id, acc) {
		if u, ok := w.(interface{ setUser(string) }); ok {
			u.setUser(id.user)
		}
		return true
	}
	switch {
	case id.bearer && id.user != "":
		a.challenge(w, r, acc, "insufficient_scope", "the token does not grant "+scopeText(acc))
	case id.bearer:
		a.challenge(w, r, acc, "insufficient_scope", "authentication required"+accessText(acc))
	default:
		a.challenge(w, r, acc, "", "authentication required"+accessText(acc))
	}
	return false
}

// Authenticated reports whether r carries a user's valid credentials:
// Basic, or a token issued to a user (not an anonymous one). A nil Auth
// lets everyone in.
func (a *Auth) Authenticated(r *http.Request) bool {
	if a == nil {
		return true
	}
	id, err := a.identify(r)
	return err == nil && id.user != ""
}

// identity is who a request is.
type identity struct {
	user   string // "" for anonymous
	bearer bool   // a token, whose grants are below
	tok    *claims
}

var (
	errBadCredentials = errors.New("invalid username or password")
	errBadToken       = errors.New("invalid token")
)

// identify reads r's Authorization: none (anonymous), Basic (checked
// against the htpasswd users) or Bearer (a token of ours).
func (a *Auth) identify(r *http.Request) (identity, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return identity{}, nil
	}
	scheme, cred, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Basic"):
		user, pass, ok := r.BasicAuth()
		if !ok || len(user) > maxUserLen || len(pass) > maxPasswordLen {
			// Longer than any user of the file, or than bcrypt reads:
			// refused without a check, whoever it names.
			return identity{}, errBadCredentials
		}
		ok, err := a.check(r.Context(), user, pass, r.RemoteAddr)
		if err != nil {
			return identity{user: user}, err
		}
		if !ok {
			return identity{user: user}, errBadCredentials
		}
		return identity{user: user}, nil
	case strings.EqualFold(scheme, "Bearer"):
		c, err := a.verifyToken(strings.TrimSpace(cred))
		if err != nil {
			return identity{}, errBadToken
		}
		return identity{user: c.Sub, bearer: true, tok: c}, nil
	}
	return identity{}, errBadCredentials
}

// permits decides. Anonymous clients may pull and list unless pulls need
// credentials; Basic users may do everything; a token may do what it
// grants, and never less than an anonymous client.
func (a *Auth) permits(id identity, acc Access) bool {
	anonymous := !a.pulls && (acc.Action == ActionPull || acc.Catalog)
	switch {
	case anonymous:
		return true
	case id.bearer:
		if acc.ping() {
			return true
		}
		if acc.Repo.IsZero() && !acc.Catalog {
			// A route without a repository: only a user's token.
			return id.user != ""
		}
		return id.tok.grants(acc)
	case id.user != "":
		return true
	}
	return false
}

// challenge answers 401 with a Bearer challenge: the realm, the service
// and, when the request named one, the scope it needs.
func (a *Auth) challenge(w http.ResponseWriter, r *http.Request, acc Access, errCode, message string) {
	var b strings.Builder
	fmt.Fprintf(&b, `Bearer realm=%s,service=%s`, quote(a.realmFor(r)), quote(tokenService))
	if s := acc.scope(); s != "" {
		fmt.Fprintf(&b, `,scope=%s`, quote(s))
	}
	if errCode != "" {
		fmt.Fprintf(&b, `,error=%s`, quote(errCode))
	}
	w.Header().Set("WWW-Authenticate", b.String())
	ocierr.Write(w, ocierr.Unauthorized, message, nil)
}

// realmFor is the token endpoint's URL as the client reached the server.
func (a *Auth) realmFor(r *http.Request) string {
	if a.realm != "" {
		return a.realm
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/auth/token"
}

// scopeText is acc's scope, for messages.
func scopeText(acc Access) string {
	if s := acc.scope(); s != "" {
		return s
	}
	return "access to this route"
}

// accessText says what acc is, for messages: " to push team/app".
func accessText(acc Access) string {
	switch {
	case acc.Catalog:
		return " to list the catalog"
	case acc.ping():
		return ""
	case acc.Repo.IsZero():
		return " to " + acc.Action
	}
	return " to " + acc.Action + " " + acc.Repo.String()
}

// quote makes a quoted-string of an auth-param.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// tooManyChecks answers a credential check refused for the flood it joins.
func tooManyChecks(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	ocierr.Write(w, ocierr.TooManyRequests, "too many credential checks at once for this user or client address; retry in a second", nil)
}

// bcryptSlots is how many bcrypt runs go at once: half the CPUs, so that
// credential checks never take all of them.
func bcryptSlots() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// The longest user name and password a check is run for.
const (
	maxUserLen     = 256
	maxPasswordLen = 1024
)
