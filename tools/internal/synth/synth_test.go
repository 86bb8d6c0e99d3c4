package synth

import (
	"context"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/validate"
)

// A generated repository is healthy: it renders with no finding.
func TestGeneratedRepositoryIsClean(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(dir, 5); err != nil {
		t.Fatal(err)
	}
	rep, err := validate.Run(context.Background(), validate.Options{Root: dir, Policies: "-"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.Kustomizations != 7 || rep.Stats.Objects != 5*9+5 {
		t.Errorf("%d Kustomizations and %d objects, want 7 and %d", rep.Stats.Kustomizations, rep.Stats.Objects, 5*9+5)
	}
	for _, f := range rep.Findings {
		t.Errorf("%s: %s %s", f.Position(), f.Rule, f.Message)
	}
	if err := Generate(t.TempDir(), 0); err == nil {
		t.Error("zero Kustomizations must be an error")
	}
}
