// Package deploy_test checks the deployment examples in deploy/ as far as
// this machine allows: the systemd unit and its drop-in with
// systemd-analyze verify (when it is installed), none of them listening
// beyond loopback without TLS and htpasswd, the compose file and the
// Kubernetes manifests (the server and its gc Job) by
// decoding them strictly (unknown fields refused) into local structs that
// mirror the fields they use (k8s.io/api is not a dependency of fl), and
// every fl serve flag they pass against fl serve's own flags.
package deploy_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/foreignlayers/fl/internal/commands"
)

// checkServeArgs fails unless args are "serve" and flags fl serve has.
func checkServeArgs(t *testing.T, where string, args []string) map[string]string {
	t.Helper()
	return checkArgs(t, where, "serve", args)
}

// checkArgs fails unless args are the fl command sub and flags it has.
func checkArgs(t *testing.T, where, sub string, args []string) map[string]string {
	t.Helper()
	if len(args) == 0 || args[0] != sub {
		t.Fatalf("%s: command %q is not fl %s", where, args, sub)
	}
	cmd, _, err := commands.New(io.Discard, io.Discard).Find([]string{sub})
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]string{}
	for _, a := range args[1:] {
		name, value, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || cmd.Flags().Lookup(name) == nil {
			t.Errorf("%s: %q is not a flag of fl %s (use --flag=value)", where, a, sub)
			continue
		}
		flags[name] = value
	}
	return flags
}

// execStartFlags checks the fl serve command lines of a unit or drop-in
// and returns the flags of the last (a drop-in's ExecStart= resets).
func execStartFlags(t *testing.T, where string, unit []byte) map[string]string {
	t.Helper()
	var flags map[string]string
	for _, line := range strings.Split(string(unit), "\n") {
		if rest, ok := strings.CutPrefix(line, "ExecStart=/usr/local/bin/fl "); ok {
			flags = checkServeArgs(t, where, strings.Fields(rest))
		}
	}
	if flags == nil {
		t.Fatalf("%s: no ExecStart of fl serve", where)
	}
	return flags
}

// checkExposure fails if fl serve listens beyond loopback without TLS and
// an htpasswd file.
func checkExposure(t *testing.T, where string, flags map[string]string) {
	t.Helper()
	host, _, err := net.SplitHostPort(flags["addr"])
	if err != nil {
		t.Fatalf("%s: --addr %q: %v", where, flags["addr"], err)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return
	}
	if flags["tls-cert"] == "" || flags["tls-key"] == "" || flags["htpasswd"] == "" {
		t.Errorf("%s: --addr %s is beyond loopback without --tls-cert, --tls-key and --htpasswd", where, flags["addr"])
	}
}

func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("fl-serve.service")
	if err != nil {
		t.Fatal(err)
	}
	expose, err := os.ReadFile(filepath.Join("fl-serve.service.d", "expose.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=fl", "ProtectSystem=strict", "NoNewPrivileges=yes", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !bytes.Contains(unit, []byte("\n"+want+"\n")) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	// Safe as shipped: loopback only. The drop-in that exposes it passes
	// TLS and htpasswd files as credentials.
	flags := execStartFlags(t, "the unit", unit)
	if host, _, _ := net.SplitHostPort(flags["addr"]); host != "127.0.0.1" {
		t.Errorf("the unit listens on %q, want 127.0.0.1", flags["addr"])
	}
	checkExposure(t, "the unit", flags)
	if !bytes.Contains(expose, []byte("\nExecStart=\n")) {
		t.Errorf("expose.conf does not reset ExecStart")
	}
	flags = execStartFlags(t, "expose.conf", expose)
	checkExposure(t, "expose.conf", flags)
	for _, f := range []string{"tls-cert", "tls-key", "htpasswd"} {
		cred, ok := strings.CutPrefix(flags[f], "${CREDENTIALS_DIRECTORY}/")
		if !ok || !bytes.Contains(expose, []byte("\nLoadCredential="+cred+":/etc/fl/")) {
			t.Errorf("expose.conf: --%s=%s is not a credential loaded from /etc/fl", f, flags[f])
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	verify := func(unit, dropIn []byte) string {
		// verify wants ExecStart to exist: this test's own binary stands in for fl.
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		p := filepath.Join(dir, "fl-serve.service")
		if err := os.WriteFile(p, bytes.ReplaceAll(unit, []byte("/usr/local/bin/fl"), []byte(self)), 0o644); err != nil {
			t.Fatal(err)
		}
		if dropIn != nil { // verify reads the unit's .d directory beside it
			if err := os.Mkdir(p+".d", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(p+".d", "expose.conf"), bytes.ReplaceAll(dropIn, []byte("/usr/local/bin/fl"), []byte(self)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, err := exec.Command(analyze, "verify", p).CombinedOutput()
		if err != nil {
			return string(out) + err.Error()
		}
		return string(out)
	}
	if out := verify(unit, nil); out != "" {
		t.Errorf("systemd-analyze verify:\n%s", out)
	}
	if out := verify(unit, expose); out != "" {
		t.Errorf("systemd-analyze verify with expose.conf:\n%s", out)
	}
	// The check sees mistakes: verify warns (and exits 0) on a bad value,
	// in the unit and in the drop-in.
	if out := verify(bytes.Replace(unit, []byte("ProtectSystem=strict"), []byte("ProtectSystem=bogus"), 1), nil); out == "" {
		t.Errorf("systemd-analyze verify did not notice ProtectSystem=bogus")
	}
	if out := verify(unit, append(bytes.Clone(expose), "ProtectSystem=bogus\n"...)); out == "" {
		t.Errorf("systemd-analyze verify did not read the drop-in")
	}
}

// The compose fields deploy/compose.yaml uses.
type composeFile struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	Volumes  map[string]struct{}       `json:"volumes"`
}

type composeService struct {
	Image           string   `json:"image"`
	Command         []string `json:"command"`
	Ports           []string `json:"ports"`
	Volumes         []string `json:"volumes"`
	Restart         string   `json:"restart"`
	ReadOnly        bool     `json:"read_only"`
	CapDrop         []string `json:"cap_drop"`
	SecurityOpt     []string `json:"security_opt"`
	StopGracePeriod string   `json:"stop_grace_period"`
	Deploy          struct {
		Replicas int `json:"replicas"`
	} `json:"deploy"`
}

func TestCompose(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	s, ok := c.Services["fl"]
	if !ok || len(c.Services) != 1 || s.Deploy.Replicas != 1 {
		t.Fatalf("compose.yaml: want one service fl with one replica: %+v", c)
	}
	flags := checkServeArgs(t, "compose.yaml", s.Command)
	if flags["tls-cert"] == "" || flags["htpasswd"] == "" {
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("compose.yaml: port %q is published beyond loopback without TLS and htpasswd", p)
			}
		}
	}
	vol, mount, _ := strings.Cut(s.Volumes[0], ":")
	if _, ok := c.Volumes[vol]; !ok || mount != flags["data-dir"] {
		t.Errorf("compose.yaml: the volume %q at %q is not a named volume at --data-dir %q", vol, mount, flags["data-dir"])
	}
}

// The Kubernetes fields deploy/kubernetes uses, mirrored from k8s.io/api.
type k8sObject struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   k8sMetadata `json:"metadata"`
	Spec       any         `json:"spec"`
}

type k8sMetadata struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

type pvcSpec struct {
	AccessModes []string `json:"accessModes"`
	Resources   struct {
		Requests map[string]string `json:"requests"`
	} `json:"resources"`
}

type deploymentSpec struct {
	Replicas int `json:"replicas"`
	Strategy struct {
		Type string `json:"type"`
	} `json:"strategy"`
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	Template struct {
		Metadata k8sMetadata `json:"metadata"`
		Spec     podSpec     `json:"spec"`
	} `json:"template"`
}

type jobSpec struct {
	BackoffLimit int `json:"backoffLimit"`
	Template     struct {
		Metadata k8sMetadata `json:"metadata"`
		Spec     podSpec     `json:"spec"`
	} `json:"template"`
}

type podSpec struct {
	SecurityContext struct {
		RunAsNonRoot   bool `json:"runAsNonRoot"`
		RunAsUser      int  `json:"runAsUser"`
		RunAsGroup     int  `json:"runAsGroup"`
		FSGroup        int  `json:"fsGroup"`
		SeccompProfile struct {
			Type string `json:"type"`
		} `json:"seccompProfile"`
	} `json:"securityContext"`
	RestartPolicy                 string      `json:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds int         `json:"terminationGracePeriodSeconds,omitempty"`
	Containers                    []container `json:"containers"`
	Volumes                       []volume    `json:"volumes"`
}

// volume is a PersistentVolumeClaim or a Secret.
type volume struct {
	Name                  string `json:"name"`
	PersistentVolumeClaim *struct {
		ClaimName string `json:"claimName"`
	} `json:"persistentVolumeClaim,omitempty"`
	Secret *struct {
		SecretName  string `json:"secretName"`
		DefaultMode int    `json:"defaultMode,omitempty"`
	} `json:"secret,omitempty"`
}

type container struct {
	Name  string   `json:"name"`
	Image string   `json:"image"`
	Args  []string `json:"args"`
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	ReadinessProbe probe `json:"readinessProbe"`
	LivenessProbe  probe `json:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `json:"requests"`
		Limits   map[string]string `json:"limits"`
	} `json:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation bool `json:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool `json:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `json:"drop"`
		} `json:"capabilities"`
	} `json:"securityContext"`
	VolumeMounts []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
		ReadOnly  bool   `json:"readOnly,omitempty"`
	} `json:"volumeMounts"`
}

type probe struct {
	HTTPGet struct {
		Path string `json:"path"`
		Port string `json:"port"`
	} `json:"httpGet"`
	InitialDelaySeconds int `json:"initialDelaySeconds,omitempty"`
	PeriodSeconds       int `json:"periodSeconds"`
	FailureThreshold    int `json:"failureThreshold,omitempty"`
}

type serviceSpec struct {
	Type     string            `json:"type"`
	Selector map[string]string `json:"selector"`
	Ports    []struct {
		Name       string `json:"name"`
		Port       int    `json:"port"`
		TargetPort string `json:"targetPort"`
	} `json:"ports"`
}

func TestKubernetes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("kubernetes", "fl-serve.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pvc pvcSpec
	var dep deploymentSpec
	svcs := map[string]*serviceSpec{}
	var pvcName string
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var obj k8sObject
		if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil {
			t.Fatalf("%v in\n%s", err, doc)
		}
		spec, _ := yaml.Marshal(obj.Spec)
		var target any
		switch obj.APIVersion + " " + obj.Kind {
		case "v1 PersistentVolumeClaim":
			target, pvcName = &pvc, obj.Metadata.Name
		case "apps/v1 Deployment":
			target = &dep
		case "v1 Service":
			svcs[obj.Metadata.Name] = &serviceSpec{}
			target = svcs[obj.Metadata.Name]
		default:
			t.Fatalf("unexpected %s %s", obj.APIVersion, obj.Kind)
		}
		if err := yaml.UnmarshalStrict(spec, target); err != nil {
			t.Errorf("%s %s: %v", obj.Kind, obj.Metadata.Name, err)
		}
	}
	pod := dep.Template.Spec
	if dep.Replicas != 1 || dep.Strategy.Type != "Recreate" || len(pod.Containers) != 1 {
		t.Fatalf("the Deployment: want one replica, Recreate, one container: %+v", dep)
	}
	for k, v := range dep.Selector.MatchLabels {
		if dep.Template.Metadata.Labels[k] != v {
			t.Errorf("label %s=%s: not on the pod template", k, v)
		}
		for name, svc := range svcs {
			if svc.Selector[k] != v {
				t.Errorf("label %s=%s: not in the selector of the Service %s", k, v, name)
			}
		}
	}
	c := pod.Containers[0]
	flags := checkServeArgs(t, "the Deployment", c.Args)
	checkExposure(t, "the Deployment", flags)
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if !strings.HasSuffix(flags["metrics-addr"], ":5001") || ports["metrics"] != 5001 || !strings.HasSuffix(flags["addr"], ":5000") || ports["registry"] != 5000 {
		t.Errorf("ports %v do not match --addr %q and --metrics-addr %q", ports, flags["addr"], flags["metrics-addr"])
	}
	for _, p := range []probe{c.ReadinessProbe, c.LivenessProbe} {
		if p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port != "metrics" {
			t.Errorf("probe %+v: want /healthz on the metrics port", p)
		}
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
		t.Errorf("no resource requests: %+v", c.Resources)
	}

	// Volumes: the data dir is the PVC; TLS and htpasswd files are in
	// Secrets mounted read-only.
	volumes := map[string]volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	if len(volumes) != len(pod.Volumes) || len(c.VolumeMounts) != len(pod.Volumes) {
		t.Errorf("volumes %+v and mounts %+v do not pair up", pod.Volumes, c.VolumeMounts)
	}
	// mountedAt finds the volume mounted at dir, and whether read-only.
	mountedAt := func(dir string) (volume, bool) {
		for _, m := range c.VolumeMounts {
			if m.MountPath == dir {
				return volumes[m.Name], m.ReadOnly
			}
		}
		t.Errorf("nothing is mounted at %s", dir)
		return volume{}, false
	}
	if v, ro := mountedAt(flags["data-dir"]); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != pvcName || ro {
		t.Errorf("the data dir %q is not the PVC %q, writable: %+v", flags["data-dir"], pvcName, v)
	}
	for _, f := range []struct{ flag, secret, key string }{
		{"tls-cert", "fl-tls", "tls.crt"}, // the keys of a kubernetes.io/tls Secret
		{"tls-key", "fl-tls", "tls.key"},
		{"htpasswd", "fl-htpasswd", "htpasswd"},
	} {
		file := flags[f.flag]
		v, ro := mountedAt(path.Dir(file))
		if v.Secret == nil || v.Secret.SecretName != f.secret || path.Base(file) != f.key || !ro {
			secret := "none"
			if v.Secret != nil {
				secret = v.Secret.SecretName
			}
			t.Errorf("--%s=%s: want the key %s of the Secret %s, mounted read-only; the volume is %q, Secret %s, read-only %v", f.flag, file, f.key, f.secret, v.Name, secret, ro)
		}
		if v.Secret != nil && (v.Secret.DefaultMode&0o040 == 0 || v.Secret.DefaultMode&0o007 != 0) {
			t.Errorf("the Secret %s: mode %#o, want readable by fsGroup and not by others", f.secret, v.Secret.DefaultMode)
		}
	}
	if pvc.Resources.Requests["storage"] == "" || len(pvc.AccessModes) != 1 || pvc.AccessModes[0] != "ReadWriteOnce" {
		t.Errorf("the PVC: %+v", pvc)
	}
	if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser != 65532 || pod.SecurityContext.FSGroup != 65532 {
		t.Errorf("the pod does not run as fl's user with fsGroup: %+v", pod.SecurityContext)
	}

	// Services: the registry port alone for the nodes (LoadBalancer or
	// NodePort: node containerd cannot resolve cluster names), the metrics
	// port alone inside the cluster.
	exposed := map[string]string{} // container port → Service type
	for name, svc := range svcs {
		for _, p := range svc.Ports {
			if _, ok := ports[p.TargetPort]; !ok {
				t.Errorf("the Service %s's port %s targets %q, no port of the container", name, p.Name, p.TargetPort)
			}
			if _, dup := exposed[p.TargetPort]; dup {
				t.Errorf("the port %s is in two Services", p.TargetPort)
			}
			exposed[p.TargetPort] = svc.Type
		}
		if len(svc.Ports) != 1 {
			t.Errorf("the Service %s has %d ports, want one: the registry's and the metrics' go apart", name, len(svc.Ports))
		}
	}
	if typ := exposed["registry"]; typ != "LoadBalancer" && typ != "NodePort" {
		t.Errorf("the registry port is in a Service of type %q, want LoadBalancer (or NodePort), which nodes reach", typ)
	}
	if typ, ok := exposed["metrics"]; !ok || typ != "ClusterIP" {
		t.Errorf("the metrics port is in a Service of type %q, want ClusterIP", typ)
	}
	checkGCJob(t, flags["data-dir"], pvcName)

	// Strict: a misspelt field is refused, as the API server would.
	bad := strings.Replace(string(b), "readinessProbe:", "readinesProbe:", 1)
	var obj k8sObject
	var d deploymentSpec
	for _, doc := range strings.Split(bad, "\n---\n") {
		if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil || obj.Kind != "Deployment" {
			continue
		}
		spec, _ := yaml.Marshal(obj.Spec)
		if err := yaml.UnmarshalStrict(spec, &d); err == nil {
			t.Errorf("a misspelt field was accepted")
		}
	}
}

// checkGCJob checks deploy/kubernetes/fl-gc.yaml: fl gc on the PVC at the
// Deployment's data dir, as fl's user, so files keep their owner.
func checkGCJob(t *testing.T, dataDir, pvcName string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("kubernetes", "fl-gc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var obj k8sObject
	var job jobSpec
	if err := yaml.UnmarshalStrict(b, &obj); err != nil || obj.APIVersion+" "+obj.Kind != "batch/v1 Job" {
		t.Fatalf("fl-gc.yaml: want one batch/v1 Job: %s %s %v", obj.APIVersion, obj.Kind, err)
	}
	spec, _ := yaml.Marshal(obj.Spec)
	if err := yaml.UnmarshalStrict(spec, &job); err != nil {
		t.Fatalf("fl-gc.yaml: %v", err)
	}
	pod := job.Template.Spec
	if len(pod.Containers) != 1 || pod.RestartPolicy != "Never" {
		t.Fatalf("the gc Job: want one container, restartPolicy Never: %+v", pod)
	}
	c := pod.Containers[0]
	flags := checkArgs(t, "the gc Job", "gc", c.Args)
	if flags["data-dir"] != dataDir || len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != dataDir || len(pod.Volumes) != 1 ||
		pod.Volumes[0].Name != c.VolumeMounts[0].Name || pod.Volumes[0].PersistentVolumeClaim == nil || pod.Volumes[0].PersistentVolumeClaim.ClaimName != pvcName {
		t.Errorf("the gc Job does not collect the PVC %s at %s: flags %v, mounts %+v", pvcName, dataDir, flags, c.VolumeMounts)
	}
	if sc := pod.SecurityContext; !sc.RunAsNonRoot || sc.RunAsUser != 65532 || sc.RunAsGroup != 65532 {
		t.Errorf("the gc Job does not run as fl's user 65532: %+v", sc)
	}
}
