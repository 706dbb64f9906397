package store

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
)

// checkDigest accepts only digests fl can verify and may use in a path:
// sha256 or sha512 with lower-case hex of the right length.
func checkDigest(h v1.Hash) error {
	if err := name.CheckDigest(h.String()); err != nil {
		return err
	}
	if !name.Verifiable(h.Algorithm) {
		return fmt.Errorf("%w: %s: fl verifies only sha256 and sha512 digests", name.ErrDigest, h)
	}
	return nil
}

// checkRepository refuses the zero Repository, which names nothing.
func checkRepository(r name.Repository) error {
	if r.IsZero() {
		return fmt.Errorf("%w: the zero repository", name.ErrRepository)
	}
	return nil
}
