package readiness

import (
	"context"
	"slices"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
)

func TestSimulatedKinds(t *testing.T) {
	kinds, err := SimulatedKinds("../../../e2e/kwok/simulated-status.yaml")
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
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": SimulatedReason}},
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

func TestNotReady(t *testing.T) {
	scheme, err := kube.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	ready := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "ReconciliationSucceeded"}}
	ks := func(name, source, revision string) *kustomizev1.Kustomization {
		k := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: name}}
		k.Spec.SourceRef.Name = source
		k.Status.LastAppliedRevision = revision
		k.Status.Conditions = ready
		return k
	}
	behind := ks("apps", "flux-system", "main@sha1:0000000000")
	current := ks("infra", "flux-system", "main@sha1:abcdef0123")
	other := ks("gateway-api", "gateway-api", "v1.2.0@sha1:1111")
	hr := &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: "traefik", Name: "traefik"}}
	hr.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "InstallFailed", Message: "timeout"}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(behind, current, other, hr).WithStatusSubresource(behind, current, other, hr).Build()
	got, err := NotReady(context.Background(), c, "abcdef0123", []string{"apps", "infra", "missing"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"HelmRelease traefik/traefik: InstallFailed: timeout",
		"Kustomization apps: at main@sha1:0000000000, not yet at abcdef01",
		"Kustomization missing: not created",
	}
	if !slices.Equal(got, want) {
		t.Errorf("NotReady =\n%q\nwant\n%q", got, want)
	}
}
