package validate

import (
	"fmt"
	"maps"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/config"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/netflow"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// checkFlows evaluates the cluster's NetworkPolicies against the declared
// flows named by flows in the config (docs/network-flows.md).
func (r *run) checkFlows(c *render.Cluster) []finding.Finding {
	cfg := r.cfg.Flows
	// The file is the repository's own; keep it inside the checkout.
	rel := filepath.ToSlash(filepath.Clean(filepath.Join("/", cfg.File)))[1:]
	invalid := func(msg string) []finding.Finding {
		return []finding.Finding{finding.New(finding.FlowFile, rel, 0, 0, finding.Object{}, msg)}
	}
	vars := map[string]string{}
	if ref := cfg.VarsFrom; ref.Name != "" {
		found := false
		for _, o := range c.Objects {
			if o.U.GetKind() == "ConfigMap" && o.U.GetNamespace() == ref.Namespace && o.U.GetName() == ref.Name {
				data, _, _ := unstructured.NestedStringMap(o.U.Object, "data")
				maps.Copy(vars, data)
				found = true
			}
		}
		if !found {
			return invalid(fmt.Sprintf("flows.varsFrom in %s names ConfigMap %s/%s, which cluster %s does not render", config.FileName, ref.Namespace, ref.Name, c.Name))
		}
	}
	abs := filepath.Join(r.root, filepath.FromSlash(rel))
	f, err := netflow.Load(abs, vars)
	if err != nil {
		return invalid(strings.ReplaceAll(err.Error(), abs, rel))
	}
	f.Path = rel
	objs := make([]netflow.Object, 0, len(c.Objects))
	for _, o := range c.Objects {
		objs = append(objs, netflow.Object{U: o.U, File: o.File})
	}
	probs, _, err := netflow.Check(f, objs)
	if err != nil {
		return invalid(err.Error())
	}
	rules := map[netflow.ProblemKind]string{
		netflow.Blocked:    finding.FlowBlocked,
		netflow.Undeclared: finding.FlowUndeclared,
		netflow.NoEndpoint: finding.FlowEndpoint,
	}
	out := make([]finding.Finding, 0, len(probs))
	for _, p := range probs {
		obj := finding.Object{Kind: p.ObjKind, Namespace: p.Namespace, Name: p.Name}
		out = append(out, finding.New(rules[p.Kind], p.File, p.Line, 0, obj, p.Msg))
	}
	return out
}
