package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// faultImage builds, for one client, an image with a foreign layer of its
// own, and returns the ref a client pulls in mode m, what a pull must
// give, and the layer's path on the layer host.
func faultImage(t *testing.T, host *layerHost, addr, fault string, m mode, client string) (string, *wantImage, string) {
	tag := fault + "-" + m.tag + "-" + client
	url, name, content := layerFile(t, host, tag, "rootfs")
	s := summarize(t, run(t, flBin, "build", "-q", "--json", "-t", addr+"/faults/img:"+tag, "--layer", url))
	return m.pullRef(addr, "faults/img:"+tag), wantFrom(s.Manifests[0], map[string]string{name: content}), url[strings.LastIndex(url, "/"):]
}

// warm has fl serve fetch and cache an image's layers (of every
// platform), as a first pull would, through the repository of ref: the
// original or the view.
func warm(t *testing.T, addr, ref string, w *wantImage) {
	repo := strings.SplitN(strings.SplitN(ref, "/", 2)[1], ":", 2)[0]
	digests := slices.Clone(w.others)
	for _, l := range w.layers {
		digests = append(digests, l.digest)
	}
	for _, d := range digests {
		resp, err := http.Get("http://" + addr + "/v2/" + repo + "/blobs/" + d)
		if err != nil {
			t.Fatalf("warming %s: %v", d, err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("warming %s through %s: %d %v", d, repo, resp.StatusCode, err)
		}
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

// faultJob is one client's pull in a fault row.
type faultJob struct {
	c    client
	m    mode
	ref  string
	want *wantImage
	path string
}

// TestClientFaults: tampered upstream bytes fail every client and leave
// nothing cached; with the upstream stopped, or its URL gone 404, after
// the first pull, cache mode still serves every client that asks the
// registry. Every row runs on the original repositories and through the
// strip-urls view, which fl serve offers alongside (--strip-urls-prefix):
// through the view every client asks the registry, so every row must be
// green there, and in cache mode no client may ask a layer URL.
func TestClientFaults(t *testing.T) {
	clients := allClients(t)

	// One server per --foreign mode serves both the original and the view.
	for _, rowModes := range [][]mode{{modeCache, modeViewCache}, {modeRedirect, modeViewRedirect}} {
		host := newLayerHost(t)
		foreign := rowModes[0].foreign
		addr, dataDir := startServeDir(t, rowModes[1].serveArgs()...)
		var jobs []faultJob
		for _, m := range rowModes {
			for _, c := range clients {
				ref, want, path := faultImage(t, host, addr, "tampered", m, c.name())
				b := bytes.Clone(host.Get(path))
				copy(b[len(b)/2:], "TAMPERED")
				host.Put(path, b)
				jobs = append(jobs, faultJob{c, m, ref, want, path})
			}
		}
		for _, j := range jobs {
			t.Run("tampered/"+j.m.name+"/"+j.c.name(), func(t *testing.T) {
				before := host.requests()
				g, err := j.c.pull(t, j.ref, j.want)
				n := host.requests().minus(before)
				if err == nil {
					err = j.want.check(g)
				}
				c := cell{client: j.c.name(), image: "tampered upstream bytes", front: "embedded", mode: j.m.name}
				switch {
				case err == nil:
					record(t, c, fmt.Errorf("the client accepted tampered content"))
				case checkURLRequests(j.m, n, false) != nil:
					record(t, c, checkURLRequests(j.m, n, false))
				default:
					c.note = err.Error()
					record(t, c, nil)
				}
			})
		}
		if files := cacheFiles(dataDir); len(files) != 0 {
			t.Errorf("%s: tampered content reached the cache: %v", foreign, files)
		}
	}

	for _, fault := range []string{"upstream stopped after the first pull", "URL answers 404 after the first pull"} {
		host := newLayerHost(t)
		addr := startServe(t, modeViewCache.serveArgs()...)
		var jobs []faultJob
		for _, m := range []mode{modeCache, modeViewCache} {
			for _, c := range clients {
				ref, want, path := faultImage(t, host, addr, strings.Fields(fault)[1], m, c.name())
				warm(t, addr, ref, want)
				jobs = append(jobs, faultJob{c, m, ref, want, path})
			}
		}
		if strings.HasPrefix(fault, "upstream stopped") {
			host.Close()
		} else {
			for _, j := range jobs {
				host.Delete(j.path)
			}
		}
		for _, j := range jobs {
			t.Run(fault+"/"+j.m.name+"/"+j.c.name(), func(t *testing.T) {
				before := host.requests()
				g, err := j.c.pull(t, j.ref, j.want)
				n := host.requests().minus(before)
				if err == nil {
					err = j.want.check(g)
				}
				if err == nil {
					err = checkURLRequests(j.m, n, true)
				}
				record(t, cell{client: j.c.name(), image: fault, front: "embedded", mode: j.m.name}, err)
			})
		}
	}
}
