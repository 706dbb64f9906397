package image

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/pkg/describe"
)

// Format is the manifest format fl writes.
type Format string

// The manifest formats.
const (
	Docker Format = "docker" // Docker schema 2, foreign layers as foreign.diff.tar.gzip
	OCI    Format = "oci"    // OCI image manifest, foreign layers as ordinary types with urls
)

// Media types that go-containerregistry does not name.
const (
	OCIRestrictedLayer     types.MediaType = "application/vnd.oci.image.layer.nondistributable.v1.tar"
	OCIRestrictedZstd      types.MediaType = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
	DockerUncompressed     types.MediaType = "application/vnd.docker.image.rootfs.diff.tar"
	DockerForeignLayer     types.MediaType = types.DockerForeignLayer
	OCIRestrictedLayerGzip types.MediaType = types.OCIRestrictedLayer
)

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch Format(strings.ToLower(s)) {
	case Docker:
		return Docker, nil
	case OCI:
		return OCI, nil
	}
	return "", fmt.Errorf("unknown format %q: use docker or oci", s)
}

// ManifestType is the manifest media type of f.
func (f Format) ManifestType() types.MediaType {
	if f == OCI {
		return types.OCIManifestSchema1
	}
	return types.DockerManifestSchema2
}

// IndexType is the index media type of f.
func (f Format) IndexType() types.MediaType {
	if f == OCI {
		return types.OCIImageIndex
	}
	return types.DockerManifestList
}

// ConfigType is the config media type of f.
func (f Format) ConfigType() types.MediaType {
	if f == OCI {
		return types.OCIConfigJSON
	}
	return types.DockerConfigJSON
}

// LayerType picks the media type of a layer in format f. A foreign layer
// in the OCI format uses the ordinary layer types (its urls say it is
// foreign) unless nondistributable asks for the deprecated OCI
// non-distributable types.
func (f Format) LayerType(c describe.Compression, foreign, nondistributable bool) (types.MediaType, error) {
	if f == Docker {
		switch {
		case c == describe.Gzip && foreign:
			return DockerForeignLayer, nil
		case c == describe.Gzip:
			return types.DockerLayer, nil
		case c == describe.None && !foreign:
			return DockerUncompressed, nil
		case c == describe.None:
			return "", fmt.Errorf("the Docker format has no media type for an uncompressed foreign layer (its foreign type says gzip): use --format oci, or point at a .tar.gz")
		default:
			return "", fmt.Errorf("the Docker format has no media type for a %s layer: use --format oci", c)
		}
	}
	restricted := foreign && nondistributable
	switch c {
	case describe.Gzip:
		if restricted {
			return OCIRestrictedLayerGzip, nil
		}
		return types.OCILayer, nil
	case describe.Zstd:
		if restricted {
			return OCIRestrictedZstd, nil
		}
		return types.OCILayerZStd, nil
	case describe.None:
		if restricted {
			return OCIRestrictedLayer, nil
		}
		return types.OCIUncompressedLayer, nil
	}
	return "", fmt.Errorf("unknown compression %q", c)
}

// CompressionOf tells a layer's compression from its media type.
func CompressionOf(mt types.MediaType) (describe.Compression, error) {
	s := string(mt)
	switch {
	case strings.HasSuffix(s, "+zstd") || strings.HasSuffix(s, ".zstd"):
		return describe.Zstd, nil
	case strings.HasSuffix(s, "+gzip") || strings.HasSuffix(s, ".gzip"):
		return describe.Gzip, nil
	case strings.HasSuffix(s, ".tar") || strings.HasSuffix(s, "diff.tar"):
		return describe.None, nil
	}
	return "", fmt.Errorf("layer media type %q is not a tar layer type fl knows", mt)
}

// IsRestricted reports whether mt is a non-distributable (foreign) type.
func IsRestricted(mt types.MediaType) bool {
	return strings.Contains(string(mt), "foreign") || strings.Contains(string(mt), "nondistributable")
}

// IsForeign reports whether a layer's bytes live outside the registry: it
// has urls, or a non-distributable media type.
func IsForeign(d v1.Descriptor) bool {
	return len(d.URLs) > 0 || IsRestricted(d.MediaType)
}

// ConvertLayer maps a layer descriptor of another image (a --base) into
// format f, keeping digest, size and urls: the bytes are the same.
func (f Format) ConvertLayer(d v1.Descriptor, nondistributable bool) (v1.Descriptor, error) {
	c, err := CompressionOf(d.MediaType)
	if err != nil {
		return d, err
	}
	foreign := IsForeign(d)
	// An OCI base layer that is foreign by its urls alone stays of the
	// ordinary type unless asked otherwise.
	mt, err := f.LayerType(c, foreign, nondistributable || IsRestricted(d.MediaType))
	if err != nil {
		return d, fmt.Errorf("base layer %s: %w", d.Digest, err)
	}
	d.MediaType = mt
	return d, nil
}

// Distributable is the media type a layer of type mt gets when its urls
// are stripped: Docker's foreign type becomes Docker's layer type, an OCI
// non-distributable type the OCI layer type of the same compression; any
// other type stays.
func Distributable(mt types.MediaType) (types.MediaType, error) {
	if !IsRestricted(mt) {
		return mt, nil
	}
	c, err := CompressionOf(mt)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(string(mt), "application/vnd.docker.") {
		return Docker.LayerType(c, false, false)
	}
	return OCI.LayerType(c, false, false)
}
