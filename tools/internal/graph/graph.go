// Package graph checks the Flux dependency graph of a cluster: dependsOn
// targets exist and form no cycle, custom resources are applied only after
// the Kustomization that installs their CRD, no object is produced by two
// Kustomizations, a Kustomization waits as long as its HelmReleases may
// take, and it does not wait for a claim that nothing it runs will mount.
package graph

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/helmcheck"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// Builtins reports whether an API group is served by Kubernetes itself.
type Builtins interface {
	IsBuiltinGroup(group string) bool
}

// Check runs the graph checks for one cluster. builtins may be nil (then
// groups without a dot are taken as built-in).
// preinstalled lists API groups whose CRDs exist before Flux runs ("*" for
// all).
func Check(c *render.Cluster, builtins Builtins, preinstalled []string) []finding.Finding {
	var out []finding.Finding
	out = append(out, dependsOn(c)...)
	out = append(out, cycles(c)...)
	out = append(out, crdOrder(c, builtins, preinstalled)...)
	out = append(out, duplicates(c)...)
	out = append(out, timeouts(c)...)
	out = append(out, waitedVolumes(c)...)
	return out
}

func index(c *render.Cluster) map[render.Ref]*render.Kustomization {
	m := make(map[render.Ref]*render.Kustomization, len(c.Kustomizations))
	for _, k := range c.Kustomizations {
		m[k.Ref] = k
	}
	return m
}

func dependsOn(c *render.Cluster) []finding.Finding {
	known := index(c)
	var out []finding.Finding
	for _, k := range c.Kustomizations {
		for i, d := range k.DependsOn {
			if _, ok := known[d]; ok {
				continue
			}
			msg := fmt.Sprintf("Kustomization %s depends on %s, which no Kustomization of cluster %s defines; Flux waits for it forever", k.Ref, d, c.Name)
			if s := similar(d, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			f := finding.New(finding.GraphDependsOn, k.File, 0, 0, k.FindingObject(), msg)
			f.Field = "spec.dependsOn." + strconv.Itoa(i)
			f.Kustomization = k.Ref.String()
			out = append(out, f)
		}
	}
	return out
}

func similar(d render.Ref, known map[render.Ref]*render.Kustomization) string {
	for r := range known {
		if r.Name == d.Name && r.Namespace != d.Namespace {
			return r.String()
		}
	}
	return ""
}

// cycles finds dependsOn cycles with a depth-first search and reports each
// cycle once at each of its members, listed from the smallest.
func cycles(c *render.Cluster) []finding.Finding {
	known := index(c)
	const (
		white = iota
		grey
		black
	)
	colour := map[render.Ref]int{}
	var stack []render.Ref
	seen := map[string]bool{}
	var out []finding.Finding
	var visit func(r render.Ref)
	visit = func(r render.Ref) {
		colour[r] = grey
		stack = append(stack, r)
		k := known[r]
		for _, d := range k.DependsOn {
			if _, ok := known[d]; !ok {
				continue
			}
			switch colour[d] {
			case white:
				visit(d)
			case grey:
				i := slices.Index(stack, d)
				cyc := slices.Clone(stack[i:])
				// Rotate so the smallest member comes first.
				min := 0
				for j := range cyc {
					if cyc[j].String() < cyc[min].String() {
						min = j
					}
				}
				cyc = append(cyc[min:], cyc[:min]...)
				var names []string
				for _, x := range cyc {
					names = append(names, x.String())
				}
				key := strings.Join(names, ",")
				if seen[key] {
					continue
				}
				seen[key] = true
				// Reported at every member: the reviewer looks at the
				// file the pull request touched, whichever it is.
				msg := fmt.Sprintf("dependsOn cycle: %s -> %s; none of them will ever become ready", strings.Join(names, " -> "), names[0])
				for _, ref := range cyc {
					k := known[ref]
					f := finding.New(finding.GraphCycle, k.File, 0, 0, k.FindingObject(), msg)
					f.Field = "spec.dependsOn"
					f.Kustomization = k.Ref.String()
					out = append(out, f)
				}
			}
		}
		stack = stack[:len(stack)-1]
		colour[r] = black
	}
	refs := make([]render.Ref, 0, len(known))
	for r := range known {
		refs = append(refs, r)
	}
	slices.SortFunc(refs, func(a, b render.Ref) int { return strings.Compare(a.String(), b.String()) })
	for _, r := range refs {
		if colour[r] == white {
			visit(r)
		}
	}
	return out
}

// producer is a Kustomization that installs CRDs: by a CRD object, or by a
// HelmRelease of a chart known to ship them.
type producer struct {
	k    *render.Kustomization
	helm string // chart name when installed by a HelmRelease
	// release is the HelmRelease whose rendered chart has the CRD.
	release *render.Object
}

func isFluxGroup(g string) bool { return strings.HasSuffix(g, ".toolkit.fluxcd.io") }

// crdOrder checks that every custom resource's Kustomization is the one
// applying the CRD object, or depends (transitively) on the Kustomization
// that installs it.
func crdOrder(c *render.Cluster, builtins Builtins, preinstalled []string) []finding.Finding {
	known := index(c)
	byKind := map[string][]producer{}  // group/kind
	byGroup := map[string][]producer{} // group (charts)
	fluxInstalled := false
	for _, o := range c.Objects {
		switch {
		case o.U.GetKind() == "CustomResourceDefinition":
			g, _, _ := unstructured.NestedString(o.U.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.U.Object, "spec", "names", "kind")
			p := producer{k: o.Owner}
			if o.Chart != nil {
				p.helm, p.release = o.Chart.Chart, o.Chart.Release
			}
			byKind[g+"/"+kind] = append(byKind[g+"/"+kind], p)
			if isFluxGroup(g) {
				fluxInstalled = true
			}
		case helmcheck.IsHelmRelease(o):
			chart := helmcheck.ChartName(c, o)
			groups, _ := helmcheck.CRDGroups(chart)
			for _, g := range groups {
				byGroup[g] = append(byGroup[g], producer{k: o.Owner, helm: chart, release: o})
			}
		}
	}
	deps := closure(known)
	releaseDeps := releaseClosure(c)
	reported := map[string]bool{}
	var out []finding.Finding
	for _, o := range c.Objects {
		id := o.ID()
		if isBuiltin(id.Group, builtins) || slices.Contains(preinstalled, id.Group) || slices.Contains(preinstalled, "*") {
			continue
		}
		key := id.Group + "/" + id.Kind
		prods := append(slices.Clone(byKind[key]), byGroup[id.Group]...)
		if len(prods) == 0 {
			if isFluxGroup(id.Group) && !fluxInstalled {
				continue // installed by bootstrap or a FluxInstance
			}
			if isFluxGroup(id.Group) || reported[key] {
				continue
			}
			reported[key] = true
			f := finding.New(finding.GraphCRDUnknown, o.File, 0, 0, o.FindingObject(),
				fmt.Sprintf("no Kustomization of cluster %s installs the CRD of %s (%s): it must already exist in the cluster", c.Name, id.Kind, id.Group))
			f.Kustomization = o.Owner.Ref.String()
			out = append(out, f)
			continue
		}
		ok := false
		for _, p := range prods {
			switch {
			case p.release != nil && o.Chart != nil && o.Chart.Release == p.release:
				ok = true // Helm installs a chart's CRDs before its templates
			case p.release != nil && o.Chart != nil && releaseDeps[o.Chart.Release][p.release]:
				ok = true // helm-controller installs a release after those it dependsOn are Ready
			case p.k == o.Owner && p.helm == "":
				ok = true // kustomize-controller applies CRDs before custom resources
			case p.k != o.Owner && (deps[o.Owner.Ref][p.k.Ref] || createdBy(o.Owner, p.k) && p.helm == ""):
				ok = true
			}
		}
		if ok {
			continue
		}
		var names []string
		for _, p := range prods {
			how := "CustomResourceDefinition"
			if p.helm != "" {
				how = "HelmRelease of chart " + p.helm
			}
			names = append(names, fmt.Sprintf("%s (%s)", p.k.Ref, how))
		}
		slices.Sort(names)
		names = slices.Compact(names)
		f := finding.New(finding.GraphCRDOrder, o.File, 0, 0, o.FindingObject(),
			fmt.Sprintf("%s is applied by Kustomization %s, which does not depend on %s that installs its CRD; the first reconcile fails with \"no matches for kind %s\"",
				id, o.Owner.Ref, strings.Join(names, " or "), id.Kind))
		if byHelmOnly(prods) {
			// A chart installs the CRD: Flux converges after retries, and
			// many clusters install chart CRDs at bootstrap.
			f.Severity = finding.Warning
			f.Message += " on a new cluster (Flux retries until the chart has installed it); if the CRDs are installed at bootstrap, list the group under bootstrapCRDs in .gitops-validate.yaml"
		}
		f.Kustomization = o.Owner.Ref.String()
		out = append(out, f)
	}
	return out
}

// releaseClosure maps each HelmRelease to every HelmRelease it depends on
// through spec.dependsOn, directly or not.
func releaseClosure(c *render.Cluster) map[*render.Object]map[*render.Object]bool {
	byName := map[string]*render.Object{}
	for _, o := range c.Objects {
		if helmcheck.IsHelmRelease(o) {
			byName[o.U.GetNamespace()+"/"+o.U.GetName()] = o
		}
	}
	direct := map[*render.Object][]*render.Object{}
	for _, o := range byName {
		deps, _ := render.DependsOn(o.U.Object, o.U.GetNamespace())
		for _, d := range deps {
			if dep := byName[d.Namespace+"/"+d.Name]; dep != nil {
				direct[o] = append(direct[o], dep)
			}
		}
	}
	out := map[*render.Object]map[*render.Object]bool{}
	for _, o := range byName {
		seen := map[*render.Object]bool{}
		stack := slices.Clone(direct[o])
		for len(stack) > 0 {
			d := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !seen[d] {
				seen[d] = true
				stack = append(stack, direct[d]...)
			}
		}
		out[o] = seen
	}
	return out
}

func byHelmOnly(ps []producer) bool {
	for _, p := range ps {
		if p.helm == "" {
			return false
		}
	}
	return true
}

// createdBy reports whether k was produced (directly or not) by p's render,
// so it exists only after p applied its CRDs.
func createdBy(k, p *render.Kustomization) bool {
	for x := k.Parent; x != nil; x = x.Parent {
		if x == p {
			return true
		}
	}
	return false
}

func isBuiltin(group string, b Builtins) bool {
	if b != nil {
		return b.IsBuiltinGroup(group)
	}
	return !strings.Contains(group, ".") || strings.HasSuffix(group, ".k8s.io") && !strings.HasPrefix(group, "gateway.")
}

// closure returns, for every Kustomization, the set it depends on
// transitively.
func closure(known map[render.Ref]*render.Kustomization) map[render.Ref]map[render.Ref]bool {
	out := map[render.Ref]map[render.Ref]bool{}
	var walk func(r render.Ref, into map[render.Ref]bool)
	walk = func(r render.Ref, into map[render.Ref]bool) {
		k, ok := known[r]
		if !ok {
			return
		}
		for _, d := range k.DependsOn {
			if into[d] {
				continue
			}
			into[d] = true
			walk(d, into)
		}
	}
	for r := range known {
		set := map[render.Ref]bool{}
		walk(r, set)
		out[r] = set
	}
	return out
}

// duplicates reports an object produced by more than one Kustomization.
func duplicates(c *render.Cluster) []finding.Finding {
	type key struct {
		id     render.ObjectID
		target string
	}
	var order []key
	producers := map[key][]*render.Object{}
	for _, o := range c.Objects {
		k := key{o.ID(), targetCluster(o)}
		ps := producers[k]
		if len(ps) == 0 {
			order = append(order, k)
		}
		dup := false
		for _, p := range ps {
			// kustomize (or Helm) itself rejects duplicates within one build
			if p.Owner == o.Owner && release(p) == release(o) {
				dup = true
			}
		}
		if !dup {
			producers[k] = append(ps, o)
		}
	}
	var out []finding.Finding
	for _, k := range order {
		ps := producers[k]
		if len(ps) < 2 {
			continue
		}
		identical, sameSpec := true, true
		names := make([]string, len(ps))
		for i, p := range ps {
			names[i] = fmt.Sprintf("%s (%s)", producerName(p), p.File)
			if !reflect.DeepEqual(p.U.Object, ps[0].U.Object) {
				identical = false
				sameSpec = sameSpec && reflect.DeepEqual(withoutLabels(p.U.Object), withoutLabels(ps[0].U.Object))
			}
		}
		msg := fmt.Sprintf("%s is produced by %s; each applies it and pruning one deletes the others' object", k.id, strings.Join(names, " and by "))
		switch {
		case identical:
			msg = fmt.Sprintf("%s is produced, identical, by %s; each applies it (no conflict while they stay identical) and pruning one deletes the others' object", k.id, strings.Join(names, " and by "))
		case sameSpec:
			// The same object with each Kustomization's own labels (its
			// commonMetadata, a component's labels): only those change
			// hands, as Flux's owner labels do for any shared object.
			msg = fmt.Sprintf("%s is produced, identical apart from labels and annotations, by %s; each applies it with its own labels and pruning one deletes the others' object", k.id, strings.Join(names, " and by "))
			identical = true
		}
		// Reported at every file that produces it: the reviewer looks at
		// the one the pull request touched, whichever it is.
		for _, p := range ps {
			f := finding.New(finding.GraphDuplicate, p.File, 0, 0, p.FindingObject(), msg)
			if identical {
				f.Severity = finding.Warning
			}
			f.Kustomization = p.Owner.Ref.String()
			out = append(out, f)
		}
	}
	return out
}

// withoutLabels is obj without metadata.labels and metadata.annotations.
func withoutLabels(obj map[string]any) map[string]any {
	meta, _ := obj["metadata"].(map[string]any)
	cp := maps.Clone(obj)
	m := maps.Clone(meta)
	delete(m, "labels")
	delete(m, "annotations")
	cp["metadata"] = m
	return cp
}

// targetCluster names the cluster an object is applied to: the kubeConfig
// of its HelmRelease or Kustomization ("" for the cluster Flux runs in).
// The same object for two clusters is not a duplicate.
func targetCluster(o *render.Object) string {
	if hr := release(o); hr != nil {
		if t := kubeConfig(hr.U.Object, hr.U.GetNamespace()); t != "" {
			return t
		}
	}
	for k := o.Owner; k != nil; k = k.Parent {
		if k.Obj != nil {
			if t := kubeConfig(k.Obj.Object, k.Namespace); t != "" {
				return t
			}
		}
	}
	return ""
}

func kubeConfig(obj map[string]any, ns string) string {
	for _, ref := range []string{"secretRef", "configMapRef"} {
		if name, _, _ := unstructured.NestedString(obj, "spec", "kubeConfig", ref, "name"); name != "" {
			key, _, _ := unstructured.NestedString(obj, "spec", "kubeConfig", ref, "key")
			return ref + ":" + ns + "/" + name + "/" + key
		}
	}
	return ""
}

// release is the HelmRelease whose chart rendered o (nil for objects of a
// kustomize build).
func release(o *render.Object) *render.Object {
	if o.Chart == nil {
		return nil
	}
	return o.Chart.Release
}

func producerName(o *render.Object) string {
	if hr := release(o); hr != nil {
		return fmt.Sprintf("the chart of HelmRelease %s (Kustomization %s)", render.NamespacedName(hr.U.GetNamespace(), hr.U.GetName()), o.Owner.Ref)
	}
	return "Kustomization " + o.Owner.Ref.String()
}
