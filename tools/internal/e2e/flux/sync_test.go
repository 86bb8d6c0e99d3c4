package flux

import (
	"strings"
	"testing"
)

const syncYAML = `# bootstrap's sync objects
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: trunk
  secretRef:
    name: flux-system
  url: ssh://git@github.com/homelab-gitops/homelab
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  path: ./clusters/homelab
`

func TestPointGitRepository(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		repo       string
		wantBranch string
		wantErr    string
		contains   []string
		absent     []string
	}{
		{
			name:       "rewrites url, drops the secret, keeps the rest",
			in:         syncYAML,
			repo:       "flux-system",
			wantBranch: "trunk",
			contains:   []string{"url: http://127.0.0.1:1234/homelab.git", "path: ./clusters/homelab", "kind: Kustomization"},
			absent:     []string{"ssh://", "secretRef"},
		},
		{
			name:       "branch defaults to main",
			in:         "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: x\nspec:\n  url: https://example.invalid/x\n",
			repo:       "x",
			wantBranch: "main",
			contains:   []string{"url: http://127.0.0.1:1234/homelab.git"},
		},
		{
			name:    "unknown repository",
			in:      syncYAML,
			repo:    "other",
			wantErr: `no GitRepository "other"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, branch, err := PointGitRepository([]byte(tt.in), tt.repo, "http://127.0.0.1:1234/homelab.git")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if branch != tt.wantBranch {
				t.Errorf("branch = %q, want %q", branch, tt.wantBranch)
			}
			for _, s := range tt.contains {
				if !strings.Contains(string(out), s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(string(out), s) {
					t.Errorf("output still has %q:\n%s", s, out)
				}
			}
		})
	}
}
