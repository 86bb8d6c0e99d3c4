package treetest

import (
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

// TestValidatorFindsNothing checks the validator's findings on the tree it
// rendered for the other tests, with the repository's config and policy
// pack (policies/): no error and no warning of any class, no finding of
// the pack at all (deny or warn, per object and combined), and no variable
// whose value is not in the repository.
func TestValidatorFindsNothing(t *testing.T) {
	r := renderCluster(t)
	for _, f := range r.Report.Findings {
		switch {
		case f.Severity == finding.Error || f.Severity == finding.Warning,
			f.Class == finding.ClassPolicy,
			f.Rule == finding.RenderVarUnknown:
			t.Errorf("%s: %s %s: %s", f.Position(), f.Severity, f.Rule, f.Message)
		}
	}
	if len(r.Objects) == 0 {
		t.Fatal("the validator rendered no object")
	}
}
