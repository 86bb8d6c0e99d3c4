package proofs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestRemoveResource(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "rabbitmq")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"kustomization.yaml": "# the RabbitMQ layer\nresources:\n  - namespace.yaml\n  - cluster.yaml # the data\n  - user.yaml\n",
		"namespace.yaml":     "kind: Namespace\n",
		"cluster.yaml":       "kind: RabbitmqCluster\n",
		"user.yaml":          "kind: User\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(sub, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeResource(dir, "rabbitmq/cluster.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sub, "cluster.yaml")); !os.IsNotExist(err) {
		t.Errorf("cluster.yaml still there: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(sub, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(data); strings.Contains(got, "cluster.yaml") || !strings.Contains(got, "namespace.yaml") || !strings.Contains(got, "user.yaml") || !strings.Contains(got, "# the RabbitMQ layer") {
		t.Errorf("kustomization.yaml after the removal:\n%s", got)
	}
	if err := removeResource(dir, "rabbitmq/user.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "other.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := removeResource(dir, "rabbitmq/other.yaml"); err == nil || !strings.Contains(err.Error(), "does not list other.yaml") {
		t.Errorf("removing an unlisted file: err = %v", err)
	}
}

func TestEditHelmRelease(t *testing.T) {
	dir := t.TempDir()
	in := "# Traefik\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: traefik\nspec:\n  values:\n    deployment:\n      replicas: 2 # one per worker\n"
	if err := os.WriteFile(filepath.Join(dir, "release.yaml"), []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	err := editHelmRelease(dir, "release.yaml", func(n *yaml.RNode) error {
		return n.PipeE(yaml.LookupCreate(yaml.MappingNode, "spec", "values", "deployment", "podAnnotations"),
			yaml.SetField(rolloutAnnotation, yaml.NewStringRNode("now")))
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(dir, "release.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Traefik", "replicas: 2 # one per worker", "podAnnotations:", rolloutAnnotation + ": now"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("edited release lacks %q:\n%s", want, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte("kind: ConfigMap\nmetadata:\n  name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := editHelmRelease(dir, "cm.yaml", func(*yaml.RNode) error { return nil }); err == nil || !strings.Contains(err.Error(), "cm.yaml: no HelmRelease") {
		t.Errorf("a file without a HelmRelease: err = %v", err)
	}
}

func TestUnschedulable(t *testing.T) {
	pending := func(name, reason, msg string) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: reason, Message: msg},
			}},
		}
	}
	running := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	spread := "0/5 nodes are available: 2 node(s) didn't match pod topology spread constraints, 3 node(s) had untolerated taint"
	if got := unschedulable([]corev1.Pod{running, pending("b", corev1.PodReasonUnschedulable, spread)}); got != "b: "+spread {
		t.Errorf("unschedulable = %q", got)
	}
	if got := unschedulable([]corev1.Pod{running, pending("c", "SchedulerError", "x")}); got != "" {
		t.Errorf("a pod not refused by the scheduler: unschedulable = %q", got)
	}
}

// TestTheProofsFindTheirFiles runs the proofs' edits on a copy of the
// files they change in this repository.
func TestTheProofsFindTheirFiles(t *testing.T) {
	const root = "../../../.."
	dir := t.TempDir()
	for _, f := range append([]string{traefikRelease, certManagerRelease}, statefulFiles...) {
		for _, name := range []string{f, filepath.Join(filepath.Dir(f), "kustomization.yaml")} {
			data, err := os.ReadFile(filepath.Join(root, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range []string{traefikRelease, certManagerRelease} {
		if err := editHelmRelease(dir, f, func(*yaml.RNode) error { return nil }); err != nil {
			t.Error(err)
		}
	}
	for _, f := range statefulFiles {
		if err := removeResource(dir, f); err != nil {
			t.Error(err)
		}
	}
}
