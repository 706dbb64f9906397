package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foreignlayers/fl/internal/testutil"
)

// A client pulls an image the way its users do, and returns what it got:
// the layers' files, or, for docker, the diff_ids.
type client interface {
	name() string
	pull(t *testing.T, ref string, want *wantImage) (got, error)
}

// got is what a client ended up with.
type got struct {
	files   map[string]string // union of the layers' regular files
	diffIDs []string          // docker only
}

// wantImage is what a pull of an image must produce.
type wantImage struct {
	layers  []wantLayer
	files   map[string]string
	diffIDs []string
	others  []string // the layers of the index's other platforms, which some clients copy too
}

type wantLayer struct{ digest, diffID string }

// runClient runs a client program with a time limit and returns stdout;
// on failure, the error carries the program's own words.
func runClient(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		if ctx.Err() != nil {
			msg = "timed out after " + timeout.String() + ": " + msg
		}
		return "", fmt.Errorf("%s", lastLines(msg, 3))
	}
	return out.String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// blobFiles reads the files of each wanted layer from blobs stored by
// digest hex under dir (skopeo's dir:, an OCI layout's blobs/sha256).
func blobFiles(t *testing.T, dir string, want *wantImage) (got, error) {
	g := got{files: map[string]string{}}
	for _, l := range want.layers {
		b, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(l.digest, "sha256:")))
		if err != nil {
			return g, fmt.Errorf("layer %s not written: %v", l.digest, err)
		}
		if testutil.Sha256(b) != l.digest {
			return g, fmt.Errorf("layer %s: the bytes written hash to %s", l.digest, testutil.Sha256(b))
		}
		files, err := filesOf(t, b)
		if err != nil {
			return g, fmt.Errorf("layer %s: %v", l.digest, err)
		}
		for k, v := range files {
			g.files[k] = v
		}
	}
	return g, nil
}

// --- docker ---

type dockerClient struct{ d *dockerd }

func (c dockerClient) name() string { return "docker" }

func (c dockerClient) pull(t *testing.T, ref string, _ *wantImage) (got, error) {
	if _, stderr, err := c.d.docker("pull", ref); err != nil {
		return got{}, fmt.Errorf("%s", lastLines(strings.TrimSpace(stderr), 2))
	}
	out, stderr, err := c.d.docker("image", "inspect", ref, "--format", "{{json .RootFS.Layers}}")
	if err != nil {
		return got{}, fmt.Errorf("inspect: %s", stderr)
	}
	var ids []string
	if err := json.Unmarshal([]byte(out), &ids); err != nil {
		return got{}, err
	}
	return got{diffIDs: ids}, nil
}

// --- containerd (ctr) ---

type ctrClient struct {
	sock     string
	hostsDir string // --hosts-dir, if set
}

func (c ctrClient) name() string { return "ctr" }

func (c ctrClient) pull(t *testing.T, ref string, want *wantImage) (got, error) {
	args := []string{"--address", c.sock, "-n", "fl", "image", "pull", "--plain-http"}
	if c.hostsDir != "" {
		args = append(args, "--hosts-dir", c.hostsDir)
	}
	if _, err := runClient(2*time.Minute, nil, "ctr", append(args, ref)...); err != nil {
		return got{}, err
	}
	g := got{files: map[string]string{}}
	for _, l := range want.layers {
		b, err := runClient(time.Minute, nil, "ctr", "--address", c.sock, "-n", "fl", "content", "get", l.digest)
		if err != nil {
			return g, fmt.Errorf("content get %s: %v", l.digest, err)
		}
		if testutil.Sha256([]byte(b)) != l.digest {
			return g, fmt.Errorf("layer %s: content hashes to %s", l.digest, testutil.Sha256([]byte(b)))
		}
		files, err := filesOf(t, []byte(b))
		if err != nil {
			return g, err
		}
		for k, v := range files {
			g.files[k] = v
		}
	}
	return g, nil
}

// --- podman ---

type podmanClient struct {
	root           string
	registriesConf string // --registries-conf, if set: its entries say which registries are insecure
}

func (c podmanClient) name() string { return "podman" }

func (c podmanClient) args(a ...string) []string {
	args := []string{"--root", filepath.Join(c.root, "root"), "--runroot", filepath.Join(c.root, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	if c.registriesConf != "" {
		args = append(args, "--registries-conf", c.registriesConf)
	}
	return append(args, a...)
}

func (c podmanClient) pull(t *testing.T, ref string, want *wantImage) (got, error) {
	pull := []string{"pull", "--tls-verify=false", ref}
	if c.registriesConf != "" {
		pull = []string{"pull", ref}
	}
	if _, err := runClient(2*time.Minute, nil, "podman", c.args(pull...)...); err != nil {
		return got{}, err
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	if _, err := runClient(2*time.Minute, nil, "podman", c.args("save", "--format", "docker-archive", "-o", archive, ref)...); err != nil {
		return got{}, fmt.Errorf("save: %v", err)
	}
	return dockerArchiveFiles(t, archive)
}

// --- skopeo ---

type skopeoClient struct {
	registriesConf string // --registries-conf, if set: its entries say which registries are insecure
}

func (skopeoClient) name() string { return "skopeo" }

func (c skopeoClient) pull(t *testing.T, ref string, want *wantImage) (got, error) {
	g, _, err := c.copy(t, ref, want)
	return g, err
}

// copy is pull, and also returns the digest of the manifest copied.
func (c skopeoClient) copy(t *testing.T, ref string, want *wantImage) (got, string, error) {
	out := filepath.Join(t.TempDir(), "dir")
	// --src-tls-verify=false would make skopeo skip a registries.conf
	// mirror (../shared/RECIPES.md); the file's insecure = true does it.
	args := []string{"copy", "--src-tls-verify=false", "docker://" + ref, "dir:" + out}
	if c.registriesConf != "" {
		args = []string{"--registries-conf", c.registriesConf, "copy", "docker://" + ref, "dir:" + out}
	}
	if _, err := runClient(2*time.Minute, nil, "skopeo", args...); err != nil {
		return got{}, "", err
	}
	m, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		return got{}, "", err
	}
	g, err := blobFiles(t, out, want)
	return g, testutil.Sha256(m), err
}

// --- crane ---

type craneClient struct{ bin string }

func (craneClient) name() string { return "crane" }

func (c craneClient) pull(t *testing.T, ref string, want *wantImage) (got, error) {
	out := filepath.Join(t.TempDir(), "layout")
	if _, err := runClient(2*time.Minute, nil, c.bin, "pull", "--format", "oci", ref, out); err != nil {
		return got{}, err
	}
	return blobFiles(t, filepath.Join(out, "blobs", "sha256"), want)
}

// --- regctl ---

type regctlClient struct{ bin string }

func (regctlClient) name() string { return "regctl" }

func (c regctlClient) pull(t *testing.T, ref string, want *wantImage) (got, error) {
	// regctl's ocidir: references refuse paths with commas and the like,
	// which subtest temp dirs have.
	dir, err := os.MkdirTemp("", "regctl-")
	if err != nil {
		return got{}, err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	out := filepath.Join(dir, "layout")
	host := strings.SplitN(ref, "/", 2)[0]
	if _, err := runClient(2*time.Minute, []string{"HOME=" + t.TempDir()}, c.bin, "--host", "reg="+host+",tls=disabled",
		"image", "copy", "--include-external", ref, "ocidir://"+out+":pulled"); err != nil {
		return got{}, err
	}
	return blobFiles(t, filepath.Join(out, "blobs", "sha256"), want)
}
