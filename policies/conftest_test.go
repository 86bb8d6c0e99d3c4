package policies_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/conftest/output"
	"github.com/open-policy-agent/conftest/parser"
	"github.com/open-policy-agent/conftest/policy"
)

// TestConftestEngine loads the pack the way the validator does (conftest's
// policy.Load with Rego v1, then engine.Check per object and CheckCombined
// for the cross-object packages) and checks which rules fire on fixtures.
func TestConftestEngine(t *testing.T) {
	ctx := context.Background()
	engine, err := policy.Load([]string{"."}, policy.CompilerOptions{RegoVersion: "v1"})
	if err != nil {
		t.Fatalf("load pack: %v", err)
	}
	var perObject, combined []string
	for _, ns := range engine.Namespaces() {
		switch {
		case strings.HasPrefix(ns, "homelab.combined."):
			combined = append(combined, ns)
		case strings.HasPrefix(ns, "homelab."):
			perObject = append(perObject, ns)
		}
	}
	for _, want := range []string{"homelab.security", "homelab.network", "homelab.certificates", "homelab.data", "homelab.reliability", "homelab.flux", "homelab.secrets"} {
		if !slices.Contains(perObject, want) {
			t.Errorf("package %s not loaded", want)
		}
	}

	tests := []struct {
		file         string
		wantObject   []string
		wantCombined []string
	}{
		{file: "testdata/conftest/compliant.yaml"},
		{
			file: "testdata/conftest/violations.yaml",
			wantObject: []string{
				"data-prune-protected",
				"network-external-traffic-local",
				"network-no-loadbalancer",
				"policy-exception-invalid",
				"reliability-spread",
				"secrets-sops-encrypted",
				"security-image-digest",
				"security-privileged",
				"security-secret-env",
			},
			wantCombined: []string{"data-namespace-prune-protected", "network-default-deny", "reliability-pdb"},
		},
		{
			file:       "testdata/conftest/traefik-rendered.yaml",
			wantObject: []string{"reliability-spread-rollout", "reliability-spread-taints"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			configs, err := parser.ParseConfigurations([]string{tt.file})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			var gotObject, gotCombined []string
			for _, ns := range perObject {
				results, err := engine.Check(ctx, configs, ns)
				if err != nil {
					t.Fatalf("check %s: %v", ns, err)
				}
				for _, r := range results {
					gotObject = append(gotObject, ruleIDs(t, r)...)
				}
			}
			for _, ns := range combined {
				r, err := engine.CheckCombined(ctx, configs, ns)
				if err != nil {
					t.Fatalf("check combined %s: %v", ns, err)
				}
				gotCombined = append(gotCombined, ruleIDs(t, r)...)
			}
			if diff := cmp.Diff(tt.wantObject, unique(gotObject)); diff != "" {
				t.Errorf("per-object rules (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCombined, unique(gotCombined)); diff != "" {
				t.Errorf("cross-object rules (-want +got):\n%s", diff)
			}
		})
	}
}

// ruleIDs returns the rule ids of a check result's failures and warnings,
// checking each has the message and metadata the validator relies on.
func ruleIDs(t *testing.T, r output.CheckResult) []string {
	t.Helper()
	var ids []string
	for _, f := range slices.Concat(r.Failures, r.Warnings) {
		id, _ := f.Metadata["rule"].(string)
		if id == "" || f.Message == "" {
			t.Errorf("%s: result without rule id or message: %+v", r.FileName, f)
			continue
		}
		if strings.HasPrefix(r.Namespace, "homelab.combined.") {
			if p, _ := f.Metadata["path"].(string); p == "" {
				t.Errorf("%s: cross-object result %s has no path", r.Namespace, id)
			}
		}
		ids = append(ids, id)
	}
	return ids
}

func unique(ids []string) []string {
	set := map[string]bool{}
	for _, id := range ids {
		set[id] = true
	}
	if len(set) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(set))
}
