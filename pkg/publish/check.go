package publish

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrUnreachable is wrapped when the registry does not answer.
var ErrUnreachable = errors.New("the registry does not answer")

// CheckPush makes sure a push to ref can work before anything is read:
// the registry answers, and the credentials kc gives may push to the
// repository. It starts a blob upload, as crane's push check does, and
// cancels it.
func CheckPush(ctx context.Context, ref name.Reference, kc authn.Keychain, rt http.RoundTripper) error {
	repo := ref.Context()
	reg := repo.RegistryStr()
	auth, err := authn.Resolve(ctx, kc, repo)
	if err != nil {
		return fmt.Errorf("credentials for %s: %w", repo, err)
	}
	tr, err := transport.NewWithContext(ctx, repo.Registry, auth, rt, []string{repo.Scope(transport.PushScope)})
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) {
			return fmt.Errorf("checking that %s accepts a push: %w", repo, explainAuth(reg, err))
		}
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, reg, err)
	}
	url := fmt.Sprintf("%s://%s/v2/%s/blobs/uploads/", repo.Scheme(), reg, repo.RepositoryStr())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: tr}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, reg, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		err := transport.CheckError(resp, http.StatusAccepted)
		return fmt.Errorf("checking that %s accepts a push: %w", repo, explainAuth(reg, err))
	}
	if loc, err := resp.Location(); err == nil {
		if del, err := http.NewRequestWithContext(ctx, http.MethodDelete, loc.String(), nil); err == nil {
			if r, err := client.Do(del); err == nil {
				r.Body.Close()
			}
		}
	}
	return nil
}
