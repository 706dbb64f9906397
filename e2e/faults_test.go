package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
)

// faultImage builds, for one client, an image with a foreign layer of its
// own, and returns its ref, what a pull must give, and the layer's path on
// the upstream.
func faultImage(t *testing.T, up *testutil.Upstream, addr, fault, client string) (string, *wantImage, string) {
	tag := fault + "-" + client
	url, name, content := layerFile(t, up, tag, "rootfs")
	ref := addr + "/faults/img:" + tag
	s := summarize(t, run(t, flBin, "build", "-q", "--json", "-t", ref, "--layer", url))
	return ref, wantFrom(s.Manifests[0], map[string]string{name: content}), url[strings.LastIndex(url, "/"):]
}

// warm has fl serve fetch and cache a layer, as a first pull would.
func warm(t *testing.T, addr, ref string, w *wantImage) {
	repo := strings.SplitN(strings.SplitN(ref, "/", 2)[1], ":", 2)[0]
	for _, l := range w.layers {
		resp, err := http.Get("http://" + addr + "/v2/" + repo + "/blobs/" + l.digest)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("warming %s: %v %v", l.digest, err, resp)
		}
		resp.Body.Close()
	}
}

func cacheFiles(dataDir string) []string {
	var out []string
	_ = filepath.WalkDir(filepath.Join(dataDir, "cache", "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, filepath.Base(p))
		}
		return nil
	})
	return out
}

// TestClientFaults: tampered upstream bytes fail every client and leave
// nothing cached; with the upstream stopped, or its URL gone 404, after
// the first pull, cache mode still serves every client that asks the
// registry.
func TestClientFaults(t *testing.T) {
	clients := allClients(t)

	for _, mode := range []string{"cache", "redirect"} {
		up := testutil.NewUpstream(t)
		addr, dataDir := startServeDir(t, "--foreign", mode, "--allow-http", "--allow-private-networks")
		type job struct {
			c    client
			ref  string
			want *wantImage
		}
		var jobs []job
		for _, c := range clients {
			ref, want, path := faultImage(t, up, addr, "tampered-"+mode, c.name())
			b := bytes.Clone(up.Get(path))
			copy(b[len(b)/2:], "TAMPERED")
			up.Put(path, b)
			jobs = append(jobs, job{c, ref, want})
		}
		for _, j := range jobs {
			t.Run("tampered/"+mode+"/"+j.c.name(), func(t *testing.T) {
				g, err := j.c.pull(t, j.ref, j.want)
				if err == nil {
					err = j.want.check(g)
				}
				c := cell{client: j.c.name(), image: "tampered upstream bytes", front: "embedded", mode: mode}
				if err == nil {
					record(t, c, fmt.Errorf("the client accepted tampered content"))
					return
				}
				c.note = err.Error()
				record(t, c, nil)
			})
		}
		if files := cacheFiles(dataDir); len(files) != 0 {
			t.Errorf("%s: tampered content reached the cache: %v", mode, files)
		}
	}

	for _, fault := range []string{"upstream stopped after the first pull", "URL answers 404 after the first pull"} {
		up := testutil.NewUpstream(t)
		addr := startServe(t, "--allow-http", "--allow-private-networks")
		type job struct {
			c    client
			ref  string
			want *wantImage
			path string
		}
		var jobs []job
		for _, c := range clients {
			ref, want, path := faultImage(t, up, addr, strings.Fields(fault)[1], c.name())
			warm(t, addr, ref, want)
			jobs = append(jobs, job{c, ref, want, path})
		}
		if strings.HasPrefix(fault, "upstream stopped") {
			up.Close()
		} else {
			for _, j := range jobs {
				up.Delete(j.path)
			}
		}
		for _, j := range jobs {
			t.Run(fault+"/"+j.c.name(), func(t *testing.T) {
				g, err := j.c.pull(t, j.ref, j.want)
				if err == nil {
					err = j.want.check(g)
				}
				record(t, cell{client: j.c.name(), image: fault, front: "embedded", mode: "cache"}, err)
			})
		}
	}
}
