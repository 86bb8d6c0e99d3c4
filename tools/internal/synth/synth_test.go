package synth

import (
	"context"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"

	"github.com/homelab-gitops/homelab/tools/internal/validate"
)

// A generated repository is healthy: it renders with no warning or error
// (charts are not available offline and Gateway API CRDs are expected in
// the cluster: infos).
func TestGeneratedRepositoryIsClean(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(dir, 12); err != nil {
		t.Fatal(err)
	}
	rep, err := validate.Run(context.Background(), validate.Options{Root: dir, Policies: "-"})
	if err != nil {
		t.Fatal(err)
	}
	// 12 applications in two groups (one declared in clusters/, one
	// nested in ks.yaml files), the three infrastructure Kustomizations
	// and one per group.
	if rep.Stats.Kustomizations != 12+3+2 {
		t.Errorf("%d Kustomizations, want %d", rep.Stats.Kustomizations, 12+3+2)
	}
	if per := float64(rep.Stats.Objects) / float64(rep.Stats.Kustomizations); per < 8 {
		t.Errorf("%d objects for %d Kustomizations: %.1f each, want at least 8", rep.Stats.Objects, rep.Stats.Kustomizations, per)
	}
	for _, f := range rep.Findings {
		if f.Severity != finding.Info {
			t.Errorf("%s: %s %s", f.Position(), f.Rule, f.Message)
		}
	}
	if err := Generate(t.TempDir(), 0); err == nil {
		t.Error("zero Kustomizations must be an error")
	}
}
