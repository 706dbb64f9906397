package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrStatus is wrapped by every answer that is not a success.
var ErrStatus = errors.New("the server refused")

// Client talks to a server's admin endpoint.
type Client struct {
	// Server is the server's base URL: http(s)://HOST[:PORT].
	Server *url.URL
	// User and Password, if User is set, go as Basic credentials.
	User, Password string
	HTTP           *http.Client
}

// NewClient checks server and returns a client for it.
func NewClient(server string) (*Client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want http(s)://HOST[:PORT]", server)
	}
	if u.User != nil {
		return nil, fmt.Errorf("--server: credentials do not go in the URL; fl cache reads them from the docker config (docker login)")
	}
	u.Path, u.RawQuery, u.Fragment = "", "", ""
	return &Client{Server: u, HTTP: http.DefaultClient}, nil
}

// List returns the cached blobs.
func (c *Client) List(ctx context.Context) (*CacheListing, error) {
	var out CacheListing
	if err := c.do(ctx, http.MethodGet, cachePath, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Remove removes one cached blob.
func (c *Client) Remove(ctx context.Context, digest string) error {
	return c.do(ctx, http.MethodDelete, cachePath+"/"+digest, http.StatusNoContent, nil)
}

func (c *Client) do(ctx context.Context, method, path string, want int, out any) error {
	u := *c.Server
	u.Path = path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return err
	}
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Password)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, 64<<20)
	if resp.StatusCode != want {
		var e Error
		b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return fmt.Errorf("%s %s: %w: %s: %s", method, u.Redacted(), ErrStatus, resp.Status, msg)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	return nil
}
