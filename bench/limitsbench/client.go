package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// client speaks the registry API to one server. With a user it sends
// Basic credentials on every request; when a server answers 401 with a
// Bearer challenge (the token flow), it fetches a token for the scope
// with the same credentials, as docker does, and retries once.
type client struct {
	hc         *http.Client
	base       string // http://ADDR
	user, pass string
	tokens     map[string]string // scope → token
}

func newClient(base, user, pass string, conns int) *client {
	return &client{
		hc:     &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}},
		base:   base,
		user:   user,
		pass:   pass,
		tokens: map[string]string{},
	}
}

// do sends a request (body may be nil) and returns the response; the
// caller closes its body. scope is the token scope the request needs.
func (c *client) do(ctx context.Context, method, path, scope string, body []byte, hdr http.Header) (*http.Response, error) {
	send := func(bearer string) (*http.Response, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		target := path
		if !strings.HasPrefix(path, "http://") {
			target = c.base + path
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return nil, err
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		switch {
		case bearer != "":
			req.Header.Set("Authorization", "Bearer "+bearer)
		case c.user != "":
			req.SetBasicAuth(c.user, c.pass)
		}
		return c.hc.Do(req)
	}
	resp, err := send(c.tokens[scope])
	if err != nil || resp.StatusCode != http.StatusUnauthorized || c.user == "" {
		return resp, err
	}
	realm, service, ok := bearerChallenge(resp.Header.Get("WWW-Authenticate"))
	if !ok {
		return resp, nil
	}
	drain(resp)
	tok, err := c.token(ctx, realm, service, scope)
	if err != nil {
		return nil, err
	}
	c.tokens[scope] = tok
	return send(tok)
}

// token asks the token endpoint for scope with Basic credentials.
func (c *client) token(ctx context.Context, realm, service, scope string) (string, error) {
	u, err := url.Parse(realm)
	if err != nil {
		return "", fmt.Errorf("token realm %q: %w", realm, err)
	}
	q := u.Query()
	q.Set("service", service)
	if scope != "" {
		q.Set("scope", scope)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(c.user, c.pass)
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token %s: %s", u, resp.Status)
	}
	var t struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&t); err != nil {
		return "", fmt.Errorf("token %s: %w", u, err)
	}
	if t.Token == "" {
		t.Token = t.AccessToken
	}
	return t.Token, nil
}

// bearerChallenge parses `Bearer realm="...",service="..."`.
func bearerChallenge(h string) (realm, service string, ok bool) {
	rest, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return "", "", false
	}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		v = strings.Trim(v, `"`)
		switch k {
		case "realm":
			realm = v
		case "service":
			service = v
		}
	}
	return realm, service, realm != ""
}

// drain reads what is left of a body (up to 1 MiB, so that the
// connection can be reused) and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

// failure describes an unexpected answer, with the start of its body.
func failure(what string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	drain(resp)
	return fmt.Errorf("%s: %s: %s", what, resp.Status, strings.TrimSpace(string(b)))
}

func sha256Digest(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// pushBlob uploads b to repo: POST an upload, PUT its bytes.
func (c *client) pushBlob(ctx context.Context, repo string, b []byte) (string, error) {
	scope := "repository:" + repo + ":pull,push"
	resp, err := c.do(ctx, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", scope, nil, nil)
	if err != nil {
		return "", fmt.Errorf("starting an upload to %s: %w", repo, err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return "", failure("starting an upload to "+repo, resp)
	}
	drain(resp)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", fmt.Errorf("upload location: %w", err)
	}
	loc = resp.Request.URL.ResolveReference(loc)
	dg := sha256Digest(b)
	q := loc.Query()
	q.Set("digest", dg)
	loc.RawQuery = q.Encode()
	hdr := http.Header{"Content-Type": {"application/octet-stream"}}
	resp, err = c.do(ctx, http.MethodPut, loc.String(), scope, b, hdr)
	if err != nil {
		return "", fmt.Errorf("uploading a blob to %s: %w", repo, err)
	}
	if resp.StatusCode != http.StatusCreated {
		return "", failure("uploading a blob to "+repo, resp)
	}
	drain(resp)
	return dg, nil
}
