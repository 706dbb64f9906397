package mirror

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestStripManifestKeepsEveryOtherByte(t *testing.T) {
	t.Parallel()
	d1 := "sha256:" + strings.Repeat("1", 64)
	d2 := "sha256:" + strings.Repeat("2", 64)
	in := `{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "zeta": {"size": 1.0e3},
   "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 10, "digest": "` + d1 + `"},
   "layers": [
      {"urls": ["https://a/x.tar.gz", "https://b/x.tar.gz"], "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "size": 3, "digest": "` + d2 + `"},
      {"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd","size":4,"digest":"` + d1 + `","urls":["https://c/y"],"annotations":{"k":"v"}},
      {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 5, "digest": "` + d2 + `", "urls": ["https://d/z"]},
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 6, "digest": "` + d1 + `"}
   ]
}`
	want := `{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "zeta": {"size": 1.0e3},
   "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 10, "digest": "` + d1 + `"},
   "layers": [
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 3, "digest": "` + d2 + `"},
      {"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","size":4,"digest":"` + d1 + `","annotations":{"k":"v"}},
      {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 5, "digest": "` + d2 + `"},
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 6, "digest": "` + d1 + `"}
   ]
}`
	got, err := StripManifest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	again, err := StripManifest(got)
	if err != nil || !bytes.Equal(again, got) {
		t.Errorf("stripping twice changed the bytes: %v", err)
	}
	plain := []byte(`{"schemaVersion":2,"layers":[{"mediaType":"x","size":1,"digest":"` + d1 + `","urls":[]}]}`)
	if out, err := StripManifest(plain); err != nil || !bytes.Equal(out, plain) {
		t.Errorf("a manifest without urls changed: %s, %v", out, err)
	}
}

func TestRewriteIndex(t *testing.T) {
	t.Parallel()
	a := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	b := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}
	c := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c", 64)}
	in := `{"schemaVersion":2,"manifests":[{"mediaType":"m","size":100,"digest":"` + a.String() + `","platform":{"os":"linux"}},{"mediaType":"m","size":7,"digest":"` + c.String() + `"}],"annotations":{"x":"y"}}`
	out, err := RewriteIndex([]byte(in), map[v1.Hash]v1.Descriptor{a: {Digest: b, Size: 98}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schemaVersion":2,"manifests":[{"mediaType":"m","size":98,"digest":"` + b.String() + `","platform":{"os":"linux"}},{"mediaType":"m","size":7,"digest":"` + c.String() + `"}],"annotations":{"x":"y"}}`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func FuzzStripManifest(f *testing.F) {
	f.Add([]byte(`{"layers":[{"urls":["u"],"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"}]}`))
	f.Add([]byte(`{"config":{"urls":["u"]},"layers":[{"a":1,"urls":["u"]}]}`))
	f.Add([]byte(`{"layers":[{"urls":["u"],"URLS":["v"],"x":1},{"a":1,"urls":["u"],"Urls":["v"]},{"urls":["u"],"uRLs":["w"]}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := StripManifest(raw)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%q gave invalid JSON %q", raw, out)
		}
		if again, err := StripManifest(out); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("%q: stripping twice changed %q into %q (%v)", raw, out, again, err)
		}
		var doc struct {
			Config *struct{ URLs []string }  `json:"config"`
			Layers []struct{ URLs []string } `json:"layers"`
		}
		if json.Unmarshal(out, &doc) == nil {
			for _, l := range doc.Layers {
				if len(l.URLs) > 0 {
					t.Fatalf("%q kept urls: %q", raw, out)
				}
			}
		}
	})
}
