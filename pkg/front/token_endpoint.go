package front

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/ocierr"
)

// maxScopes bounds the scopes of one token request, and so a token's size.
const maxScopes = 32

// tokenResponse is the token endpoint's answer, as distribution's token
// servers give it: clients read "token" or "access_token".
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
}

// ServeToken is the token endpoint, GET /auth/token?service=fl&scope=...
// A client with valid Basic credentials gets every action it asks for
// (pull, push, delete, *) and the catalog; an anonymous one gets pulls and
// the catalog unless pulls need credentials, and otherwise a token that
// grants nothing. Bad Basic credentials get 401. Scopes naming an invalid
// repository, or a resource fl does not know, are dropped.
func (a *Auth) ServeToken(w http.ResponseWriter, r *http.Request) {
	if a == nil {
		ocierr.WriteStatus(w, http.StatusNotFound, ocierr.Unsupported, "this server has no token endpoint: it runs without --htpasswd", nil)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		ocierr.Write(w, ocierr.Unsupported, "the token endpoint answers GET only", nil)
		return
	}
	var user string
	// A Bearer header here is a client's old token: it asks as itself.
	if r.Header.Get("Authorization") != "" && !isBearer(r) {
		id, err := a.identify(r)
		switch {
		case err == nil:
			user = id.user
		case errors.Is(err, errBadCredentials):
			a.log.Info("refused credentials", "user", id.user, "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Basic realm=`+quote(tokenService))
			ocierr.Write(w, ocierr.Unauthorized, "invalid username or password", nil)
			return
		case errors.Is(err, errTooManyChecks):
			tooManyChecks(w)
			return
		default:
			ocierr.Write(w, ocierr.Unavailable, "checking credentials: "+err.Error(), nil)
			return
		}
	}
	var scopes []string
	for _, v := range r.URL.Query()["scope"] {
		scopes = append(scopes, strings.Fields(v)...)
	}
	if len(scopes) > maxScopes {
		ocierr.WriteStatus(w, http.StatusBadRequest, ocierr.Unsupported, "too many scopes in one token request", nil)
		return
	}
	now := a.now()
	c := a.grantScopes(user, scopes)
	c.Aud, c.Iat, c.Exp = tokenService, now.Unix(), now.Add(tokenTTL).Unix()
	tok, err := a.signToken(c)
	if err != nil {
		ocierr.WriteStatus(w, http.StatusInternalServerError, ocierr.Unavailable, "signing a token: "+err.Error(), nil)
		return
	}
	body, _ := json.Marshal(tokenResponse{
		Token: tok, AccessToken: tok, ExpiresIn: int(tokenTTL / time.Second), IssuedAt: now.UTC().Format(time.RFC3339),
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

func isBearer(r *http.Request) bool {
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "Bearer")
}

// grantScopes decides what a token for user ("" for anonymous) grants of
// the scopes asked for.
func (a *Auth) grantScopes(user string, scopes []string) *claims {
	c := &claims{Sub: user}
	for _, s := range scopes {
		typ, rest, _ := strings.Cut(s, ":")
		i := strings.LastIndex(rest, ":")
		if i < 0 {
			continue
		}
		resource, actions := rest[:i], strings.Split(rest[i+1:], ",")
		switch typ {
		case "registry":
			if resource == "catalog" && slices.Contains(actions, "*") && (user != "" || !a.pulls) {
				c.Catalog = true
			}
		case "repository":
			repo, err := name.ParseRepository(resource)
			if err != nil {
				continue
			}
			c.add(repo, a.allowedActions(user, actions))
		}
	}
	return c
}

// allowedActions is what of actions user may have.
func (a *Auth) allowedActions(user string, actions []string) []string {
	var out []string
	for _, act := range actions {
		var want []string
		switch act {
		case ActionPull, ActionPush, ActionDelete:
			want = []string{act}
		case "*":
			want = []string{ActionPull, ActionPush, ActionDelete}
		}
		for _, w := range want {
			if user != "" || w == ActionPull && !a.pulls {
				out = append(out, w)
			}
		}
	}
	return out
}

// add grants actions on repo, merging with what is already granted.
func (c *claims) add(repo name.Repository, actions []string) {
	if len(actions) == 0 {
		return
	}
	i := slices.IndexFunc(c.Access, func(g grant) bool { return g.Name == repo.String() })
	if i < 0 {
		c.Access = append(c.Access, grant{Name: repo.String()})
		i = len(c.Access) - 1
	}
	for _, act := range actions {
		if !slices.Contains(c.Access[i].Actions, act) {
			c.Access[i].Actions = append(c.Access[i].Actions, act)
		}
	}
}
