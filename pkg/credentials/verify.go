package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrRejected is wrapped when a registry refuses credentials.
var ErrRejected = errors.New("the registry refused the credentials")

// Check asks registry's /v2/ with auth, through the token flow when the
// registry uses one, as podman login does.
func Check(ctx context.Context, reg name.Registry, auth authn.Authenticator, rt http.RoundTripper) error {
	tr, err := transport.NewWithContext(ctx, reg, auth, rt, nil)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
			return fmt.Errorf("%w: %s: %w", ErrRejected, reg, err)
		}
		return fmt.Errorf("%s: %w", reg, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", reg, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %s answered %s", ErrRejected, reg, resp.Status)
	}
	return fmt.Errorf("%s answered %s to GET /v2/", reg, resp.Status)
}
