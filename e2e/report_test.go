package e2e

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// cell is one outcome of the client matrix.
type cell struct {
	client, image, front, mode string
	err                        string
	limitation                 string // a documented limitation of the client, if the cell is one
	note                       string // how a client rightly refused content, quoted
}

var results struct {
	mu          sync.Mutex
	cells       []cell
	conformance string
}

// limitations are cells where the client itself cannot do the job; the
// test asserts that the client fails the way it is documented to, quoting
// its own error. Keyed by client, then by a fault or image name.
var limitations = map[string]map[string]string{
	"ctr":    {"upstream stopped after the first pull": "connect: connection refused"},
	"podman": {"URL answers 404 after the first pull": "read on closed response body"},
	"skopeo": {"URL answers 404 after the first pull": "read on closed response body"},
}

// record checks a cell against its expectation and keeps it for the
// report.
func record(t *testing.T, c cell, err error) {
	t.Helper()
	if err != nil {
		c.err = err.Error()
	}
	if lim, ok := limitations[c.client][c.image]; ok {
		c.limitation = lim
		if err == nil {
			t.Errorf("%s now succeeds where it was documented to fail (%s): update the limitation", c.client, lim)
		} else if !strings.Contains(c.err, lim) {
			t.Errorf("%s failed differently from its documented limitation %q: %s", c.client, lim, c.err)
		}
	} else if err != nil {
		t.Errorf("%s: %v", c.client, err)
	}
	results.mu.Lock()
	results.cells = append(results.cells, c)
	results.mu.Unlock()
}

// writeReport writes docs/CLIENTS.md (or $FL_CLIENTS_REPORT) from this run.
func writeReport(path string) error {
	results.mu.Lock()
	defer results.mu.Unlock()
	if len(results.cells) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Client matrix\n\nWritten by the e2e suite (`go test ./e2e -run 'TestClientMatrix|TestClientFaults|TestConformance'` with `FL_CLIENTS_REPORT=docs/CLIENTS.md`) on %s. Every cell is a real client pulling through a real `fl serve` on loopback; the harness checks what the client got: docker's diff_ids, and for the others the layer bytes and the files inside them.\n\n", time.Now().UTC().Format("2006-01-02"))
	b.WriteString("Clients: docker 20.10 (dockerd, vfs), containerd 1.6 (ctr), podman 4.3, skopeo 1.9 (copy to `dir:`), crane v0.22.1 (`pull --format oci`), regctl v0.11.7 (`image copy --include-external`).\n\n")
	b.WriteString("✅ the client got the right content (for tampered upstream bytes: the client refused them, as it must, and fl cached nothing). ⚠️ a documented limitation of the client: it fails, as quoted, however fl serves. ❌ a failure. The fault rows build an image per client, have fl fetch and cache it (a first pull), then stop the upstream, or make the URL answer 404, or (without a first pull) change the bytes at the URL.\n\n")
	groups := map[string][]cell{}
	var order []string
	for _, c := range results.cells {
		k := c.front + " · " + c.mode
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	clients := []string{"docker", "ctr", "podman", "skopeo", "crane", "regctl"}
	var notes []string
	for _, k := range order {
		fmt.Fprintf(&b, "## %s\n\n| image | %s |\n|---|%s\n", k, strings.Join(clients, " | "), strings.Repeat("---|", len(clients)))
		rows := map[string]map[string]cell{}
		var imgs []string
		for _, c := range groups[k] {
			if rows[c.image] == nil {
				rows[c.image] = map[string]cell{}
				imgs = append(imgs, c.image)
			}
			rows[c.image][c.client] = c
		}
		for _, img := range imgs {
			fmt.Fprintf(&b, "| %s |", img)
			for _, cl := range clients {
				c, ok := rows[img][cl]
				switch {
				case !ok:
					b.WriteString(" – |")
				case c.limitation != "":
					notes = append(notes, fmt.Sprintf("%s, %s, %s: `%s`", cl, img, k, shorten(c.err)))
					fmt.Fprintf(&b, " ⚠️[%d] |", len(notes))
				case c.err != "":
					notes = append(notes, fmt.Sprintf("%s, %s, %s: `%s`", cl, img, k, shorten(c.err)))
					fmt.Fprintf(&b, " ❌[%d] |", len(notes))
				case c.note != "":
					notes = append(notes, fmt.Sprintf("%s, %s, %s, refused: `%s`", cl, img, k, shorten(c.note)))
					fmt.Fprintf(&b, " ✅[%d] |", len(notes))
				default:
					b.WriteString(" ✅ |")
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if len(notes) > 0 {
		b.WriteString("## Notes\n\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "%d. %s\n", i+1, n)
		}
		b.WriteString("\n")
	}
	if results.conformance != "" {
		b.WriteString(results.conformance)
	}
	keys := make([]string, 0, len(limitationDocs))
	for k := range limitationDocs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		b.WriteString("## What each client does with urls\n\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "- **%s**: %s\n", k, limitationDocs[k])
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// limitationDocs explain, per client, what it does with urls.
var limitationDocs = map[string]string{
	"docker": "never reads `urls`; it asks the registry for every blob. Straight from a registry that lacks the blob it fails with `unknown blob` (the seed); through fl serve it pulls in cache and redirect mode, and keeps pulling when the URL is down or gone.",
	"ctr":    "containerd 1.6 fetches `urls` itself, first. A 404 there falls back to the registry, so fl's cache serves it; but a refused connection, a DNS failure or a timeout at the URL is fatal, before the registry is asked (`failed to do request: ... connect: connection refused`). fl cannot help inside containerd's own fetch: in an air gap, containerd needs images whose layers are in the registry without `urls`.",
	"podman": "containers/image (as in podman 4.3 and skopeo 1.9) fetches `urls` first. When the URL refuses the connection it falls back to the registry, so fl serves it; when the URL answers 404 it fails reading the closed 404 response (`reading blob sha256:...: http: read on closed response body`), a client bug fl cannot reach.",
	"skopeo": "the same library as podman, the same behaviour: falls back to the registry on a refused connection, fails on a 404 from the URL (`http: read on closed response body`).",
	"crane":  "asks the registry first, then `urls`; pulls through fl serve in every case here.",
	"regctl": "with `--include-external` it copies layers that have `urls`; it pulls through fl serve in every case here.",
}

var (
	logPrefix = regexp.MustCompile(`time="?[^ "]+"? level=\w+ msg="?`)
	hostPort  = regexp.MustCompile(`(localhost|127\.0\.0\.1):\d+`)
	tempPath  = regexp.MustCompile(`/tmp/[^ "]+`)
)

// shorten keeps the last line of a client's error that says most, capped,
// without what changes from run to run (times, ports, temporary paths).
func shorten(s string) string {
	parts := strings.Split(s, " / ")
	s = parts[len(parts)-1]
	s = logPrefix.ReplaceAllString(s, "")
	s = strings.TrimSuffix(s, `"`)
	s = hostPort.ReplaceAllString(s, "$1:PORT")
	s = tempPath.ReplaceAllString(s, "/tmp/…")
	if len(s) > 220 {
		s = s[:220] + "…"
	}
	return s
}
