package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
)

// repoRoot is the root of this repository, from this package's directory.
const repoRoot = "../../.."

func TestExpectedKustomizationsComeFromTheKindWorkflow(t *testing.T) {
	got, err := expectedKustomizations(filepath.Join(repoRoot, e2eWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"flux-system", "gateway-api", "infra-controllers", "infra-configs", "infra-backups", "apps"} {
		if !slices.Contains(got, name) {
			t.Errorf("EXPECTED_KUSTOMIZATIONS = %v, lacks %s", got, name)
		}
	}
	bad := filepath.Join(t.TempDir(), "wf.yaml")
	if err := os.WriteFile(bad, []byte("jobs:\n  kind:\n    env: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := expectedKustomizations(bad); err == nil || !strings.Contains(err.Error(), "EXPECTED_KUSTOMIZATIONS") {
		t.Errorf("a workflow without the list: err = %v", err)
	}
}

func TestSimulatedKinds(t *testing.T) {
	kinds, err := simulatedKinds(filepath.Join(repoRoot, "tools/e2e/kwok/simulated-status.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range kinds {
		names = append(names, k.GroupVersion().String()+"/"+k.Kind)
	}
	for _, want := range []string{"rabbitmq.com/v1beta1/RabbitmqCluster", "mongodbcommunity.mongodb.com/v1/MongoDBCommunity", "cert-manager.io/v1/Certificate"} {
		if !slices.Contains(names, want) {
			t.Errorf("simulated kinds %v lack %s", names, want)
		}
	}
}

func TestSimulated(t *testing.T) {
	byCondition := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": simulatedReason}},
	}}}
	byMessage := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{
		"phase": "Running", "message": "status simulated by kwok in the e2e (no MongoDB runs)",
	}}}
	byOperator := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Ready"}},
	}}}
	if !simulated(byCondition) || !simulated(byMessage) || simulated(byOperator) {
		t.Errorf("simulated() = %v %v %v, want true true false", simulated(byCondition), simulated(byMessage), simulated(byOperator))
	}
}

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

func TestNewLines(t *testing.T) {
	before := "a.yaml:1: error x\n1 error(s)\n"
	after := "a.yaml:1: error x\nweb.yaml:8:3: error schema-invalid replicas\n2 error(s)\n"
	got := newLines(before, after)
	want := []string{"web.yaml:8:3: error schema-invalid replicas", "2 error(s)"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("newLines = %q, want %q", got, want)
	}
	if !mentions(got, "replicas") || mentions(got, "traefik") {
		t.Errorf("mentions misreads %q", got)
	}
}

func TestFluxTableFromTheAPI(t *testing.T) {
	scheme, err := kube.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: fluxNS, Name: "apps"},
		Status: kustomizev1.KustomizationStatus{
			LastAppliedRevision: "main@sha1:abc",
			Conditions:          []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Message: "Applied revision:\nmain@sha1:abc"}},
		},
	}
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Namespace: "traefik", Name: "traefik"},
		Spec:       helmv2.HelmReleaseSpec{Suspend: true},
		Status: helmv2.HelmReleaseStatus{
			LastAttemptedRevision: "41.3.0",
			Conditions:            []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Message: "upgrade failed"}},
		},
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(ks, hr).WithStatusSubresource(ks, hr).Build()
	out, err := fluxTable(context.Background(), c, "kustomizations")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "NAME ") || !strings.Contains(out, "apps main@sha1:abc false     True  Applied revision: main@sha1:abc") {
		t.Errorf("kustomizations table:\n%s", out)
	}
	out, err = fluxTable(context.Background(), c, "helmreleases")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "NAMESPACE ") || !strings.Contains(out, "traefik   traefik 41.3.0   true      False upgrade failed") {
		t.Errorf("helmreleases table:\n%s", out)
	}
}
