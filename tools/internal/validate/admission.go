package validate

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// admissionMutators are the rendered objects that change Flux
// Kustomizations in the API server when they are created or updated: a
// MutatingWebhookConfiguration or MutatingAdmissionPolicy whose rules match
// kustomizations of kustomize.toolkit.fluxcd.io, or a Kyverno policy with a
// mutate rule for kind Kustomization. Homelab repositories use them to add
// postBuild.substituteFrom to every Kustomization, so the manifests in Git
// do not show where a variable's value comes from.
func admissionMutators(objs []*render.Object) []*render.Object {
	var out []*render.Object
	for _, o := range objs {
		group, _, _ := strings.Cut(o.U.GetAPIVersion(), "/")
		var match bool
		switch {
		case group == "admissionregistration.k8s.io" && o.U.GetKind() == "MutatingWebhookConfiguration":
			hooks, _, _ := unstructured.NestedSlice(o.U.Object, "webhooks")
			for _, h := range hooks {
				m, _ := h.(map[string]any)
				rules, _ := m["rules"].([]any)
				match = match || rulesMatchKustomizations(rules)
			}
		case group == "admissionregistration.k8s.io" && o.U.GetKind() == "MutatingAdmissionPolicy",
			group == "policies.kyverno.io" && o.U.GetKind() == "MutatingPolicy":
			rules, _, _ := unstructured.NestedSlice(o.U.Object, "spec", "matchConstraints", "resourceRules")
			match = rulesMatchKustomizations(rules)
		case group == "kyverno.io" && (o.U.GetKind() == "ClusterPolicy" || o.U.GetKind() == "Policy"):
			match = kyvernoMutatesKustomizations(o.U.Object)
		}
		if match {
			out = append(out, o)
		}
	}
	return out
}

// rulesMatchKustomizations reports whether admission rules (apiGroups,
// resources, operations) match the creation or update of a Flux
// Kustomization.
func rulesMatchKustomizations(rules []any) bool {
	has := func(m map[string]any, key string, want ...string) bool {
		vals, _ := m[key].([]any)
		for _, v := range vals {
			if s, _ := v.(string); s == "*" || slices.Contains(want, s) {
				return true
			}
		}
		return false
	}
	for _, r := range rules {
		m, _ := r.(map[string]any)
		if m == nil {
			continue
		}
		_, ops := m["operations"]
		if has(m, "apiGroups", render.KustomizeGroup) && has(m, "resources", "kustomizations", "*/*") &&
			(!ops || has(m, "operations", "CREATE", "UPDATE")) {
			return true
		}
	}
	return false
}

// kyvernoMutatesKustomizations reports whether a Kyverno policy has a
// mutate rule whose match names kind Kustomization (bare, with its group,
// or group/version/kind).
func kyvernoMutatesKustomizations(obj map[string]any) bool {
	rules, _, _ := unstructured.NestedSlice(obj, "spec", "rules")
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		if _, ok := rule["mutate"]; !ok {
			continue
		}
		match, _ := rule["match"].(map[string]any)
		var blocks []any
		for _, key := range []string{"any", "all"} {
			if bs, ok := match[key].([]any); ok {
				blocks = append(blocks, bs...)
			}
		}
		blocks = append(blocks, match)
		for _, b := range blocks {
			bm, _ := b.(map[string]any)
			kinds, _, _ := unstructured.NestedStringSlice(bm, "resources", "kinds")
			for _, k := range kinds {
				parts := strings.Split(k, "/")
				kind := parts[len(parts)-1]
				if (kind == render.KindKustomizaton || kind == "*") && (len(parts) == 1 || parts[0] == render.KustomizeGroup || parts[0] == "*") {
					return true
				}
			}
		}
	}
	return false
}

// admissionSubstitution applies what the admission mutators of a cluster
// imply: every Kustomization may receive postBuild substitution the
// manifests do not show, so its variables are unknown rather than missing
// (schema patterns do not fail on them, render-variable-missing becomes
// an info) and one info per mutator says why.
func admissionSubstitution(c *render.Cluster, findings []finding.Finding) []finding.Finding {
	mutators := admissionMutators(c.Objects)
	if len(mutators) == 0 {
		return findings
	}
	names := make([]string, len(mutators))
	for i, m := range mutators {
		names[i] = m.U.GetKind() + " " + m.U.GetName()
	}
	why := strings.Join(names, ", ")
	for _, k := range c.Kustomizations {
		k.UnknownValues = true
	}
	for i := range findings {
		if findings[i].Rule == finding.RenderVarMissing {
			findings[i].Rule = finding.RenderVarUnknown
			findings[i].Severity = finding.Info
			findings[i].Message += fmt.Sprintf("; %s changes Flux Kustomizations at admission and may supply it", why)
		}
	}
	for _, m := range mutators {
		f := finding.New(finding.RenderAdmission, m.File, 0, 0, m.FindingObject(),
			fmt.Sprintf("%s %s changes Flux Kustomizations when the API server admits them (it may add postBuild substitution): ${VAR} placeholders in the cluster's Kustomizations are treated as unknown values, not checked against schema patterns or reported missing", m.U.GetKind(), m.U.GetName()))
		findings = append(findings, f)
	}
	return findings
}
