package treetest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/conftest/policy"
)

// policyAreas are the rule packages of CONTRACTS.md.
var policyAreas = []string{"security", "network", "certificates", "data", "reliability", "flux", "secrets"}

// TestPolicyPack evaluates the policy pack in policies/ on every rendered
// object, per object and combined, the way the validator does, and expects no
// finding at all (deny or warn).
func TestPolicyPack(t *testing.T) {
	r := renderCluster(t)
	ctx := context.Background()
	engine, err := policy.Load([]string{filepath.Join(repoRoot(t), "policies")}, policy.CompilerOptions{RegoVersion: "v1"})
	if err != nil {
		t.Fatalf("load policies: %v", err)
	}
	configs := map[string]any{}
	for _, o := range r.Objects {
		doc := o.Doc
		if o.kind() == "Secret" {
			// The validator never decrypts: it sees what is in Git.
			doc = o.Encrypted
		}
		key := fmt.Sprintf("%s/%s/%s/%s", o.Kustomization, o.kind(), o.meta("namespace"), o.meta("name"))
		configs[key] = doc
	}
	var findings []string
	for _, ns := range engine.Namespaces() {
		area := strings.TrimPrefix(strings.TrimPrefix(ns, "homelab."), "combined.")
		if !strings.HasPrefix(ns, "homelab.") || !slices.Contains(policyAreas, area) {
			continue // helpers and Rego tests
		}
		if strings.HasPrefix(ns, "homelab.combined.") {
			res, err := engine.CheckCombined(ctx, configs, ns)
			if err != nil {
				t.Fatalf("check %s: %v", ns, err)
			}
			for _, f := range append(res.Failures, res.Warnings...) {
				findings = append(findings, fmt.Sprintf("%v: %v %v/%v: %s", f.Metadata["rule"], f.Metadata["kind"], f.Metadata["namespace"], f.Metadata["name"], f.Message))
			}
			continue
		}
		results, err := engine.Check(ctx, configs, ns)
		if err != nil {
			t.Fatalf("check %s: %v", ns, err)
		}
		for _, res := range results {
			for _, f := range append(res.Failures, res.Warnings...) {
				findings = append(findings, fmt.Sprintf("%s: %v: %s", res.FileName, f.Metadata["rule"], f.Message))
			}
		}
	}
	slices.Sort(findings)
	for _, f := range slices.Compact(findings) {
		t.Error(f)
	}
}
