package synth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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
	if err := GenerateShapes(t.TempDir(), 3, []string{"web", "flat"}); err == nil || !strings.Contains(err.Error(), `unknown shape "flat"`) {
		t.Errorf("an unknown shape: %v", err)
	}
}

// A repository of plain-manifest directories only (no kustomization.yaml,
// as kustomize-controller generates it) is healthy too, with the same
// objects per application as the web shape plus its NetworkPolicies.
func TestGeneratedPlainRepositoryIsClean(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateShapes(dir, 10, []string{"plain"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "apps/team-000/app-0000/app/kustomization.yaml")); !os.IsNotExist(err) {
		t.Fatalf("a plain application has a kustomization.yaml: %v", err)
	}
	rep, err := validate.Run(context.Background(), validate.Options{Root: dir, Policies: "-"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.Kustomizations != 10+3+2 {
		t.Errorf("%d Kustomizations, want %d", rep.Stats.Kustomizations, 10+3+2)
	}
	// Each application: ServiceAccount, two ConfigMaps, Deployment,
	// Service, PodDisruptionBudget, HorizontalPodAutoscaler, three
	// NetworkPolicies and an HTTPRoute.
	apps := 0
	for _, c := range rep.Clusters {
		for _, o := range c.Objects {
			if strings.HasPrefix(o.File, "apps/") && strings.Contains(o.File, "/app/") {
				apps++
			}
		}
	}
	if apps != 10*11 {
		t.Errorf("%d application objects, want %d", apps, 10*11)
	}
	for _, f := range rep.Findings {
		if f.Severity != finding.Info {
			t.Errorf("%s: %s %s", f.Position(), f.Rule, f.Message)
		}
	}
}
