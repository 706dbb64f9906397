package publish

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// refName is the annotation that tags an entry of a layout's index.json.
const refName = "org.opencontainers.image.ref.name"

// openLayout opens the layout at dir, or creates one in a new or empty
// directory; it reports whether it created it. Files are written with
// mode 0666 and directories 0777, less the umask.
func openLayout(dir string) (created bool, err error) {
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return false, nil
	}
	if _, err := os.Stat(dir); err == nil {
		entries, _ := os.ReadDir(dir)
		if len(entries) > 0 {
			return false, fmt.Errorf("%s exists and is not an OCI image layout (no index.json): give an empty or new directory", dir)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o777); err != nil {
		return false, fmt.Errorf("creating OCI layout %s: %w", dir, err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return true, fmt.Errorf("creating OCI layout %s: %w", dir, err)
	}
	empty := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	return true, writeIndex(dir, &empty)
}

func readIndex(dir string) (*v1.IndexManifest, error) {
	f, err := os.Open(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return v1.ParseIndexManifest(f)
}

func writeIndex(dir string, im *v1.IndexManifest) error {
	b, err := json.Marshal(im)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "index.json"), b)
}

// addToIndex appends root to the layout's index.json; with tag set, it
// carries the tag, and any other entry with that tag loses it.
func addToIndex(dir string, root v1.Descriptor, tag string) error {
	im, err := readIndex(dir)
	if err != nil {
		return fmt.Errorf("reading %s/index.json: %w", dir, err)
	}
	kept := im.Manifests[:0]
	for _, d := range im.Manifests {
		if tag != "" && d.Annotations[refName] == tag {
			continue
		}
		kept = append(kept, d)
	}
	if tag != "" {
		root.Annotations = map[string]string{refName: tag}
	}
	im.Manifests = append(kept, root)
	if err := writeIndex(dir, im); err != nil {
		return fmt.Errorf("writing %s/index.json: %w", dir, err)
	}
	return nil
}
