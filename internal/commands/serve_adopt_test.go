package commands

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
)

// docker pull, docker tag, docker push to the same repository: docker
// stores a foreign layer as an ordinary one, asks whether the registry
// has it (the front says yes: it serves it), skips the upload and pushes a
// manifest that declares it without urls. The front stores the cached
// bytes in the backend first, so the push succeeds; a layer that is not
// cached is still refused by the backend.
func TestServeAdoptsCachedForeignLayer(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			cached := randomBytes(t, 32<<10)
			uncached := randomBytes(t, 16<<10)
			up := testutil.NewHostile(t, cached)
			up2 := testutil.NewHostile(t, uncached)
			s := serve(t, append(append([]string{"--fetch-idle-timeout", "2s"}, loopbackOK...), be.args(t)...)...)
			layer := foreign(cached, up.URL(testutil.HostileOK))
			other := foreign(uncached, up2.URL(testutil.HostileOK))
			pushForeign(t, s.addr, "adopt/app", "1", layer, other)
			if resp, body, _ := blob(t, http.MethodGet, s.addr, "adopt/app", layer.Digest); resp.StatusCode != 200 || !bytes.Equal(body, cached) {
				t.Fatalf("pull: %d", resp.StatusCode)
			}

			// Only the cached layer, declared without urls: stored.
			plain := desc{MediaType: string(types.DockerLayer), Size: layer.Size, Digest: layer.Digest}
			m := manifestJSON(t, configDesc(), plain)
			if status, body := putManifest(t, s.addr, "adopt/app", "2", string(types.DockerManifestSchema2), m); status != http.StatusCreated {
				t.Fatalf("push of the retagged image: %d %s\n%s", status, body, s.stderr.String())
			}
			// Not cached: the backend refuses, as it would without fl.
			plainOther := desc{MediaType: string(types.DockerLayer), Size: other.Size, Digest: other.Digest}
			m = manifestJSON(t, configDesc(), plainOther)
			if status, body := putManifest(t, s.addr, "adopt/app", "3", string(types.DockerManifestSchema2), m); status == http.StatusCreated || !strings.Contains(body, "BLOB_UNKNOWN") {
				t.Errorf("a manifest declaring an uncached foreign layer without urls: %d %s", status, body)
			}
			if n := up2.Requests(testutil.HostileOK); n != 0 {
				t.Errorf("the uncached layer's URL was fetched %d times", n)
			}
			// Another repository cannot adopt the layer it never declared.
			pushForeign(t, s.addr, "adopt/other", "1")
			m = manifestJSON(t, configDesc(), plain)
			if status, _ := putManifest(t, s.addr, "adopt/other", "2", string(types.DockerManifestSchema2), m); status == http.StatusCreated {
				t.Errorf("a repository adopted another's cached layer")
			}
			if n := up.Requests(testutil.HostileOK); n != 1 {
				t.Errorf("the layer's URL was fetched %d times, want 1", n)
			}
		})
	}
}
