package helmrender

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/render"
)

func TestCredentials(t *testing.T) {
	tests := []struct {
		name, spec string
		want       []string
	}{
		{"anonymous", "url: https://charts.example.com", nil},
		{"generic provider", "url: oci://ghcr.io/example\nprovider: generic", nil},
		{"secretRef", "url: https://charts.example.com\nsecretRef: {name: creds}", []string{"spec.secretRef creds"}},
		{"certSecretRef", "url: https://charts.example.com\ncertSecretRef: {name: ca}", []string{"spec.certSecretRef ca"}},
		{"proxy", "url: oci://ghcr.io/example\nproxySecretRef: {name: proxy}", []string{"spec.proxySecretRef proxy"}},
		{"service account", "url: oci://ghcr.io/example\nserviceAccountName: puller", []string{"spec.serviceAccountName puller"}},
		{"cloud provider and secret", "url: oci://example.azurecr.io/charts\nprovider: azure\nsecretRef: {name: creds}", []string{"spec.secretRef creds, spec.provider azure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var spec map[string]any
			if err := yaml.Unmarshal([]byte(tt.spec), &spec); err != nil {
				t.Fatal(err)
			}
			obj := &render.Object{U: &unstructured.Unstructured{Object: map[string]any{"kind": "OCIRepository", "spec": spec}}}
			got := credentials(obj, "OCIRepository flux-system/charts")
			if (got == "") != (tt.want == nil) {
				t.Fatalf("credentials = %q, want %v", got, tt.want)
			}
			for _, w := range append(tt.want, "OCIRepository flux-system/charts") {
				if got != "" && !strings.Contains(got, w) {
					t.Errorf("credentials = %q, lacks %q", got, w)
				}
			}
		})
	}
}
