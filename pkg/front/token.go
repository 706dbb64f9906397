package front

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// tokenTTL is how long a token lives; clients fetch a new one when it ends.
const tokenTTL = 5 * time.Minute

// maxTokenLen bounds what is decoded from an Authorization header.
const maxTokenLen = 16 << 10

// claims is what a token says: who it was issued to ("" for an anonymous
// client), what it grants, and until when. A token is
// base64url(JSON claims) "." base64url(HMAC-SHA256(key, first part)): the
// clients treat it as opaque, and only this process (or one sharing its
// key) can make one.
type claims struct {
	Sub     string  `json:"sub,omitempty"`
	Aud     string  `json:"aud"`
	Iat     int64   `json:"iat"`
	Exp     int64   `json:"exp"`
	Access  []grant `json:"access,omitempty"`
	Catalog bool    `json:"catalog,omitempty"`
}

// grant is the actions granted on one repository.
type grant struct {
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// grants reports whether the token covers acc.
func (c *claims) grants(acc Access) bool {
	if acc.Catalog {
		return c.Catalog
	}
	for _, g := range c.Access {
		if g.Name == acc.Repo.String() && slices.Contains(g.Actions, acc.Action) {
			return true
		}
	}
	return false
}

var b64 = base64.RawURLEncoding

// signToken makes a token of c.
func (a *Auth) signToken(c *claims) (string, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	payload := b64.EncodeToString(body)
	return payload + "." + b64.EncodeToString(a.mac(payload)), nil
}

func (a *Auth) mac(payload string) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// verifyToken checks a token's signature (before reading anything in it),
// audience and expiry, and that its user is still in the htpasswd file.
func (a *Auth) verifyToken(tok string) (*claims, error) {
	if len(tok) > maxTokenLen {
		return nil, errors.New("token too long")
	}
	payload, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, errors.New("malformed token")
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac(payload)) {
		return nil, errors.New("bad token signature")
	}
	body, err := b64.DecodeString(payload)
	if err != nil {
		return nil, errors.New("malformed token")
	}
	var c claims
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, errors.New("malformed token")
	}
	now := a.now().Unix()
	switch {
	case c.Aud != tokenService:
		return nil, errors.New("token for another service")
	case now >= c.Exp:
		return nil, errors.New("token expired")
	case c.Iat > now+60:
		return nil, errors.New("token issued in the future")
	}
	if c.Sub != "" {
		if _, ok := a.state.Load().users[c.Sub]; !ok {
			return nil, errors.New("token of a user no longer known")
		}
	}
	return &c, nil
}
