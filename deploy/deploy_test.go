// Package deploy_test checks the deployment examples in deploy/ as far as
// this machine allows: the systemd unit with systemd-analyze verify (when
// it is installed), the compose file and the Kubernetes manifests by
// decoding them strictly (unknown fields refused) into local structs that
// mirror the fields they use (k8s.io/api is not a dependency of fl), and
// every fl serve flag they pass against fl serve's own flags.
package deploy_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/foreignlayers/fl/internal/commands"
)

// checkServeArgs fails unless args are "serve" and flags fl serve has.
func checkServeArgs(t *testing.T, where string, args []string) map[string]string {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("%s: command %q is not fl serve", where, args)
	}
	serve, _, err := commands.New(io.Discard, io.Discard).Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]string{}
	for _, a := range args[1:] {
		name, value, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || serve.Flags().Lookup(name) == nil {
			t.Errorf("%s: %q is not a flag of fl serve (use --flag=value)", where, a)
			continue
		}
		flags[name] = value
	}
	return flags
}

func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("fl-serve.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=fl", "ProtectSystem=strict", "NoNewPrivileges=yes", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !bytes.Contains(unit, []byte("\n"+want+"\n")) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	for _, line := range strings.Split(string(unit), "\n") {
		if rest, ok := strings.CutPrefix(line, "ExecStart=/usr/local/bin/fl "); ok {
			checkServeArgs(t, "ExecStart", strings.Fields(rest))
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	verify := func(unit []byte) string {
		// verify wants ExecStart to exist: this test's own binary stands in for fl.
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "fl-serve.service")
		if err := os.WriteFile(p, bytes.ReplaceAll(unit, []byte("/usr/local/bin/fl"), []byte(self)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", p).CombinedOutput()
		if err != nil {
			return string(out) + err.Error()
		}
		return string(out)
	}
	if out := verify(unit); out != "" {
		t.Errorf("systemd-analyze verify:\n%s", out)
	}
	// The check sees mistakes: verify warns (and exits 0) on a bad value.
	if out := verify(bytes.Replace(unit, []byte("ProtectSystem=strict"), []byte("ProtectSystem=bogus"), 1)); out == "" {
		t.Errorf("systemd-analyze verify did not notice ProtectSystem=bogus")
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
	TerminationGracePeriodSeconds int         `json:"terminationGracePeriodSeconds"`
	Containers                    []container `json:"containers"`
	Volumes                       []struct {
		Name                  string `json:"name"`
		PersistentVolumeClaim struct {
			ClaimName string `json:"claimName"`
		} `json:"persistentVolumeClaim"`
	} `json:"volumes"`
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
	var svc serviceSpec
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
			target = &svc
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
		if dep.Template.Metadata.Labels[k] != v || svc.Selector[k] != v {
			t.Errorf("label %s=%s: not on the pod template and the Service", k, v)
		}
	}
	c := pod.Containers[0]
	flags := checkServeArgs(t, "the Deployment", c.Args)
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
	if len(pod.Volumes) != 1 || pod.Volumes[0].PersistentVolumeClaim.ClaimName != pvcName || c.VolumeMounts[0].MountPath != flags["data-dir"] {
		t.Errorf("the data dir %q is not the PVC %q: %+v %+v", flags["data-dir"], pvcName, pod.Volumes, c.VolumeMounts)
	}
	if pvc.Resources.Requests["storage"] == "" || len(pvc.AccessModes) != 1 || pvc.AccessModes[0] != "ReadWriteOnce" {
		t.Errorf("the PVC: %+v", pvc)
	}
	if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser != 65532 || pod.SecurityContext.FSGroup != 65532 {
		t.Errorf("the pod does not run as fl's user with fsGroup: %+v", pod.SecurityContext)
	}
	for _, p := range svc.Ports {
		if _, ok := ports[p.TargetPort]; !ok {
			t.Errorf("the Service's port %s targets %q, no port of the container", p.Name, p.TargetPort)
		}
	}
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
