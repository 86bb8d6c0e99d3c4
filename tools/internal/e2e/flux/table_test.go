package flux

import (
	"context"
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
)

func TestTableFromTheAPI(t *testing.T) {
	scheme, err := kube.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: "apps"},
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
	out, err := Table(context.Background(), c, "kustomizations")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "NAME ") || !strings.Contains(out, "apps main@sha1:abc false     True  Applied revision: main@sha1:abc") {
		t.Errorf("kustomizations table:\n%s", out)
	}
	out, err = Table(context.Background(), c, "helmreleases")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "NAMESPACE ") || !strings.Contains(out, "traefik   traefik 41.3.0   true      False upgrade failed") {
		t.Errorf("helmreleases table:\n%s", out)
	}
}
