package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
)

// front is one way of running fl serve in the matrix.
type front struct {
	name string
	args func(t *testing.T) []string
}

var fronts = []front{
	{"embedded", func(*testing.T) []string { return nil }},
	{"upstream docker-registry 2.8", func(t *testing.T) []string {
		return []string{"--upstream", "http://" + testutil.DockerRegistry(t, testutil.AllowLocalhost)}
	}},
}

// viewPrefix is the --strip-urls-prefix of the view modes: clients pull
// ADDR/nourls/R, the view of ADDR/R.
const viewPrefix = "nourls"

// mode is one way fl serve answers for foreign layers, and the path the
// clients pull through.
type mode struct {
	name    string // as the report shows it
	tag     string // in tags
	foreign string // --foreign
	view    bool   // pull PREFIX/R, served with --strip-urls-prefix PREFIX
}

var (
	modeCache        = mode{"cache", "cache", "cache", false}
	modeRedirect     = mode{"redirect", "redirect", "redirect", false}
	modeViewCache    = mode{"cache · strip-urls view", "view-cache", "cache", true}
	modeViewRedirect = mode{"redirect · strip-urls view", "view-redirect", "redirect", true}
	modes            = []mode{modeCache, modeRedirect, modeViewCache, modeViewRedirect}
)

// isView reports whether a mode name (a cell's) is a view mode.
func isView(name string) bool { return strings.HasSuffix(name, "strip-urls view") }

// serveArgs are fl serve's flags for a mode.
func (m mode) serveArgs() []string {
	args := []string{"--foreign", m.foreign, "--allow-http", "--allow-private-networks"}
	if m.view {
		args = append(args, "--strip-urls-prefix", viewPrefix)
	}
	return args
}

// pullRef is what a client pulls for the image at addr/repo:tag.
func (m mode) pullRef(addr, repoTag string) string {
	if m.view {
		return addr + "/" + viewPrefix + "/" + repoTag
	}
	return addr + "/" + repoTag
}

// checkURLRequests is the view's promise in cache mode: once fl serve
// holds the layers (warm), a pull makes no request at a layer URL, by the
// client or by fl serve. Outside the view, or in redirect mode, the counts
// are only reported.
func checkURLRequests(m mode, n urlRequests, warm bool) error {
	if !m.view || m.foreign != "cache" {
		return nil
	}
	if n.client != 0 || (warm && n.fl != 0) {
		return fmt.Errorf("%d requests at the layer URL by the client and %d by fl serve, want none", n.client, n.fl)
	}
	return nil
}

// allClients starts the daemons the clients need and returns every
// client; missing programs skip the test, or fail it under FL_E2E=require.
func allClients(t *testing.T) []client {
	crane := tool(t, "crane")
	regctl := tool(t, "regctl")
	for _, p := range []string{"/usr/bin/podman", "/usr/bin/skopeo", testutil.DockerRegistryBin} {
		need(t, p)
	}
	return []client{
		dockerClient{startDockerd(t)},
		ctrClient{sock: startContainerd(t)},
		podmanClient{root: t.TempDir()},
		skopeoClient{},
		craneClient{crane},
		regctlClient{regctl},
	}
}

// TestClientMatrix pulls every kind of image, through every front in
// every mode (the original repositories and the strip-urls view), with
// every client, checks what each client got, and counts the requests at
// the layer URLs during each pull. Through the view in cache mode, the
// layers are fetched first through the view, and no pull may then ask a
// layer URL.
func TestClientMatrix(t *testing.T) {
	clients := allClients(t)
	host := newLayerHost(t)
	for _, fr := range fronts {
		for _, m := range modes {
			addr := startServe(t, append(m.serveArgs(), fr.args(t)...)...)
			for i, img := range imageKinds {
				tag := fmt.Sprintf("%s-%s-%d", strings.Fields(fr.name)[0], m.tag, i)
				want := img.build(t, host, addr+"/matrix/img:"+tag, tag)
				ref := m.pullRef(addr, "matrix/img:"+tag)
				warmed := m.view && m.foreign == "cache"
				if warmed {
					warm(t, addr, ref, want)
				}
				for _, c := range clients {
					t.Run(strings.Join([]string{fr.name, m.name, img.name, c.name()}, "/"), func(t *testing.T) {
						before := host.requests()
						g, err := c.pull(t, ref, want)
						n := host.requests().minus(before)
						if err == nil {
							err = want.check(g)
						}
						if err == nil {
							err = checkURLRequests(m, n, warmed)
						}
						record(t, cell{client: c.name(), image: img.name, front: fr.name, mode: m.name, urls: &n}, err)
					})
				}
			}
		}
	}
}
