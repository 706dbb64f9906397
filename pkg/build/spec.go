package build

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/checksum"
	"github.com/foreignlayers/fl/pkg/image"
)

// ErrSpec is wrapped by every error in a build's description.
var ErrSpec = errors.New("invalid build")

// Spec describes an image to build, for one or more platforms.
type Spec struct {
	Format           image.Format      `json:"format,omitempty"`
	Nondistributable bool              `json:"nondistributable,omitempty"`
	Annotations      map[string]string `json:"annotations,omitempty"`
	// Checksums are URLs or paths of published checksum files.
	Checksums []string `json:"checksums,omitempty"`
	// ChecksumsOptional lets a URL layer that no checksum file lists, and
	// that is not pinned, through with a warning instead of an error.
	ChecksumsOptional bool           `json:"checksums-optional,omitempty"`
	Platforms         []PlatformSpec `json:"platforms"`
}

// PlatformSpec is one platform's image.
type PlatformSpec struct {
	Platform   string            `json:"platform,omitempty"`
	Base       string            `json:"base,omitempty"`
	Layers     []LayerSpec       `json:"layers"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	Env        []string          `json:"env,omitempty"`
	WorkingDir string            `json:"workdir,omitempty"`
	User       string            `json:"user,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// LayerSpec is one layer: URLs (mirrors of one foreign blob) or a local
// path (a file, or a directory to tar), never both.
type LayerSpec struct {
	URL    string   `json:"url,omitempty"`
	URLs   []string `json:"urls,omitempty"`
	Path   string   `json:"path,omitempty"`
	SHA256 string   `json:"sha256,omitempty"`
}

// ParseLayerFlag reads one --layer value: a URL, several URLs separated by
// commas (mirrors), each optionally ending in #sha256=HEX, or a local path.
func ParseLayerFlag(s string) (LayerSpec, error) {
	if !strings.Contains(s, "://") {
		if s == "" {
			return LayerSpec{}, fmt.Errorf("%w: empty --layer", ErrSpec)
		}
		return LayerSpec{Path: s}, nil
	}
	var l LayerSpec
	for part := range strings.SplitSeq(s, ",") {
		l.URLs = append(l.URLs, strings.TrimSpace(part))
	}
	return l, nil
}

// sources returns the layer's mirror URLs without pins, and its pinned
// digest, checking that every pin agrees.
func (l LayerSpec) sources() (urls []string, pin string, err error) {
	all := l.URLs
	if l.URL != "" {
		all = append([]string{l.URL}, all...)
	}
	if l.Path != "" && len(all) > 0 {
		return nil, "", fmt.Errorf("%w: a layer has both a path (%s) and URLs: give one", ErrSpec, l.Path)
	}
	pin = strings.ToLower(strings.TrimPrefix(l.SHA256, "sha256:"))
	for _, raw := range all {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, "", fmt.Errorf("%w: layer URL %q: %v", ErrSpec, raw, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, "", fmt.Errorf("%w: layer URL %q: scheme %q is not supported: use http(s), or give a local file as a plain path", ErrSpec, raw, u.Scheme)
		}
		if u.Host == "" {
			return nil, "", fmt.Errorf("%w: layer URL %q has no host", ErrSpec, raw)
		}
		if u.Fragment != "" {
			h, ok := strings.CutPrefix(u.Fragment, "sha256=")
			if !ok {
				return nil, "", fmt.Errorf("%w: layer URL %q: the fragment must be #sha256=HEX", ErrSpec, raw)
			}
			h = strings.ToLower(h)
			if pin != "" && pin != h {
				return nil, "", fmt.Errorf("%w: layer URL %q pins sha256:%s, but another pin of the same layer says sha256:%s", ErrSpec, raw, h, pin)
			}
			pin = h
			u.Fragment, u.RawFragment = "", ""
		}
		urls = append(urls, u.String())
	}
	if pin != "" && !checksum.IsHex256(pin) {
		return nil, "", fmt.Errorf("%w: pinned digest %q is not 64 hex digits", ErrSpec, pin)
	}
	return urls, pin, nil
}

// Validate checks the spec before anything is read.
func (s *Spec) Validate() error {
	if s.Format == "" {
		s.Format = image.Docker
	}
	if _, err := image.ParseFormat(string(s.Format)); err != nil {
		return fmt.Errorf("%w: %w", ErrSpec, err)
	}
	if s.Nondistributable && s.Format != image.OCI {
		return fmt.Errorf("%w: --nondistributable needs --format oci (the Docker format has one foreign type already)", ErrSpec)
	}
	if len(s.Platforms) == 0 {
		return fmt.Errorf("%w: no platform to build", ErrSpec)
	}
	for i := range s.Platforms {
		p := &s.Platforms[i]
		if p.Platform == "" && p.Base == "" {
			p.Platform = "linux/amd64"
		}
		if p.Platform != "" {
			if _, err := v1.ParsePlatform(p.Platform); err != nil {
				return fmt.Errorf("%w: platform %q: %v", ErrSpec, p.Platform, err)
			}
		}
		if len(p.Layers) == 0 && p.Base == "" {
			return fmt.Errorf("%w: platform %s has no layers and no base: give --layer or --base", ErrSpec, p.Platform)
		}
		for _, l := range p.Layers {
			if _, _, err := l.sources(); err != nil {
				return err
			}
			if l.Path == "" && l.URL == "" && len(l.URLs) == 0 {
				return fmt.Errorf("%w: platform %s has a layer with neither url nor path", ErrSpec, p.Platform)
			}
		}
		for _, e := range p.Env {
			if !strings.Contains(e, "=") {
				return fmt.Errorf("%w: env %q is not KEY=VALUE", ErrSpec, e)
			}
		}
	}
	return nil
}
