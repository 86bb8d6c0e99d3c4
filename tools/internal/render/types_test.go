package render

import "testing"

// TestNamespacedName: no "/name" when there is no namespace.
func TestNamespacedName(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{Ref{Name: "podinfo"}.String(), "podinfo"},
		{Ref{Namespace: "apps", Name: "podinfo"}.String(), "apps/podinfo"},
		{SourceRef{Kind: "GitRepository", Name: "flux-system"}.String(), "GitRepository/flux-system"},
		{SourceRef{Kind: "GitRepository", Namespace: "flux-system", Name: "flux-system"}.String(), "GitRepository/flux-system/flux-system"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
