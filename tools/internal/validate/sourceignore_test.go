package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

func TestSourceIgnore(t *testing.T) {
	tests := []struct {
		name string
		// spec.ignore for the flux-system GitRepository ("" = none)
		specIgnore string
		file       string
		message    []string
	}{
		{".sourceignore file", "", "apps/web/kustomization.yaml",
			[]string{"apps/web/token.yaml is not in the source artifact", `"apps/web/token.yaml" (.sourceignore:2)`}},
		{"GitRepository spec.ignore", "/apps/web/route.yaml\n", "apps/web/kustomization.yaml",
			[]string{"apps/web/route.yaml is not in the source artifact", "spec.ignore of GitRepository flux-system/flux-system in clusters/home/flux-system/gotk-sync.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fixture(t, "sourceignore")
			if tt.specIgnore != "" {
				if err := os.Remove(filepath.Join(dir, ".sourceignore")); err != nil {
					t.Fatal(err)
				}
				sync := filepath.Join(dir, "clusters", "home", "flux-system", "gotk-sync.yaml")
				data, err := os.ReadFile(sync)
				if err != nil {
					t.Fatal(err)
				}
				indented := "  ignore: |\n    " + strings.ReplaceAll(strings.TrimSpace(tt.specIgnore), "\n", "\n    ") + "\n"
				data = []byte(strings.Replace(string(data), "  interval: 1m0s\n", "  interval: 1m0s\n"+indented, 1))
				if err := os.WriteFile(sync, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := Run(context.Background(), Options{Root: dir, Policies: policies(t)})
			if err != nil {
				t.Fatal(err)
			}
			mustFind(t, rep, finding.RenderFailed, tt.file, tt.message)
			for _, c := range rep.Clusters {
				for _, o := range c.Objects {
					if o.U.GetName() == "scratch-notes" {
						t.Errorf("%s was rendered although clusters/home/.sourceignore leaves it out of the artifact", o.File)
					}
				}
			}
		})
	}
}
