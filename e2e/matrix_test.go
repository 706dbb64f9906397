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
		ctrClient{startContainerd(t)},
		podmanClient{t.TempDir()},
		skopeoClient{},
		craneClient{crane},
		regctlClient{regctl},
	}
}

// TestClientMatrix pulls every kind of image, through every front in
// every mode, with every client, and checks what each client got.
func TestClientMatrix(t *testing.T) {
	clients := allClients(t)
	up := testutil.NewUpstream(t)
	for _, fr := range fronts {
		for _, mode := range []string{"cache", "redirect"} {
			args := append([]string{"--foreign", mode, "--allow-http", "--allow-private-networks"}, fr.args(t)...)
			addr := startServe(t, args...)
			for i, img := range imageKinds {
				tag := fmt.Sprintf("%s-%s-%d", strings.Fields(fr.name)[0], mode, i)
				ref := addr + "/matrix/img:" + tag
				want := img.build(t, up, ref, tag)
				for _, c := range clients {
					t.Run(strings.Join([]string{fr.name, mode, img.name, c.name()}, "/"), func(t *testing.T) {
						g, err := c.pull(t, ref, want)
						if err == nil {
							err = want.check(g)
						}
						record(t, cell{client: c.name(), image: img.name, front: fr.name, mode: mode}, err)
					})
				}
			}
		}
	}
}
