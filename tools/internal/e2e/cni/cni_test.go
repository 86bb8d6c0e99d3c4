package cni

import (
	"bytes"
	"context"
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/report"
	"github.com/homelab-gitops/homelab/tools/internal/helmadopt"
)

// The adoption check passes only when the HelmRelease was installed (or
// upgraded) by Helm and every bootstrap object is the same object.
func TestCheckCNIAdopted(t *testing.T) {
	scheme, err := kube.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	recorded := func(uid string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		u.SetNamespace(namespace)
		u.SetName("cilium-config")
		u.SetUID(types.UID(uid))
		return u
	}
	for _, tc := range []struct {
		name, message, recordedUID, releaseAnnotation, want string
	}{
		{"installed over the bootstrap", "Helm install succeeded for release kube-system/cilium.v1 with chart cilium@1.20.1", "uid-1", release, "PASS homelab: CNI adopted"},
		{"upgraded", "Helm upgrade succeeded for release kube-system/cilium.v2 with chart cilium@1.20.1", "uid-1", release, "PASS homelab: CNI adopted"},
		{"recreated", "Helm install succeeded for release kube-system/cilium.v1 with chart cilium@1.20.1", "uid-0", release, "ConfigMap kube-system/cilium-config recreated (uid uid-0 -> uid-1)"},
		{"not owned by the release", "Helm install succeeded for release kube-system/cilium.v1 with chart cilium@1.20.1", "uid-1", "", "lost its release annotation"},
		{"Ready without a Helm action", "Release reconciliation succeeded", "uid-1", release, "not after a Helm install or upgrade"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
				Namespace: namespace, Name: "cilium-config", UID: "uid-1",
				Annotations: map[string]string{helmadopt.ReleaseNameAnnotation: tc.releaseAnnotation},
			}}
			hr := &helmv2.HelmRelease{
				ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: release},
				Status: helmv2.HelmReleaseStatus{Conditions: []metav1.Condition{
					{Type: "Ready", Status: metav1.ConditionTrue, Reason: "InstallSucceeded", Message: tc.message},
				}},
			}
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(live, hr).WithStatusSubresource(hr).Build()
			var out bytes.Buffer
			rep := report.New(&out)
			CheckAdopted(context.Background(), c, rep, &Bootstrap{chart: "cilium-1.20.1", objects: []*unstructured.Unstructured{recorded(tc.recordedUID)}})
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("report:\n%s\nwant %q", out.String(), tc.want)
			}
			if pass := strings.HasPrefix(tc.want, "PASS"); pass != (rep.Failed() == 0) {
				t.Errorf("failed checks = %d, want pass = %v:\n%s", rep.Failed(), pass, out.String())
			}
		})
	}
}
