// Package diff compares the rendered objects of two revisions, per Flux
// Kustomization, as YAML with unified diffs. Secret values are never shown.
package diff

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// Change kinds.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// Report is the difference between the base and the head revision.
type Report struct {
	Base           string              `json:"base"`
	Kustomizations []KustomizationDiff `json:"kustomizations"`
}

// KustomizationDiff lists the changed objects of one Kustomization.
type KustomizationDiff struct {
	Cluster       string       `json:"cluster"`
	Kustomization string       `json:"kustomization"`
	Objects       []ObjectDiff `json:"objects"`
}

// ObjectDiff is one added, removed or changed object.
type ObjectDiff struct {
	Object string `json:"object"`
	Change string `json:"change"`
	// Diff is a unified diff of the YAML (Secret values redacted).
	Diff string `json:"diff"`
}

// Counts tallies the changes.
func (r *Report) Counts() (added, removed, changed int) {
	for _, k := range r.Kustomizations {
		for _, o := range k.Objects {
			switch o.Change {
			case Added:
				added++
			case Removed:
				removed++
			default:
				changed++
			}
		}
	}
	return added, removed, changed
}

type key struct{ cluster, ks string }

// Compute diffs base against head.
func Compute(baseRef string, base, head []*render.Cluster) (*Report, error) {
	b, h := group(base), group(head)
	keys := map[key]bool{}
	for k := range b {
		keys[k] = true
	}
	for k := range h {
		keys[k] = true
	}
	sorted := make([]key, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.SortFunc(sorted, func(x, y key) int { return cmp.Or(strings.Compare(x.cluster, y.cluster), strings.Compare(x.ks, y.ks)) })
	rep := &Report{Base: baseRef, Kustomizations: []KustomizationDiff{}}
	for _, k := range sorted {
		kd, err := diffObjects(b[k], h[k])
		if err != nil {
			return nil, fmt.Errorf("kustomization %s: %w", k.ks, err)
		}
		if len(kd) > 0 {
			rep.Kustomizations = append(rep.Kustomizations, KustomizationDiff{Cluster: k.cluster, Kustomization: k.ks, Objects: kd})
		}
	}
	return rep, nil
}

func group(cs []*render.Cluster) map[key]map[string]*render.Object {
	out := map[key]map[string]*render.Object{}
	for _, c := range cs {
		for _, o := range c.Objects {
			k := key{c.Name, o.Owner.Ref.String()}
			if out[k] == nil {
				out[k] = map[string]*render.Object{}
			}
			id := o.ID()
			out[k][id.Group+"/"+id.String()] = o
		}
	}
	return out
}

func diffObjects(base, head map[string]*render.Object) ([]ObjectDiff, error) {
	ids := map[string]bool{}
	for id := range base {
		ids[id] = true
	}
	for id := range head {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	var out []ObjectDiff
	for _, id := range sorted {
		b, h := base[id], head[id]
		var by, hy string
		var err error
		if b != nil {
			if by, err = toYAML(b, nil); err != nil {
				return nil, err
			}
		}
		if h != nil {
			if hy, err = toYAML(h, b); err != nil {
				return nil, err
			}
		}
		if by == hy {
			continue
		}
		change := Changed
		name := ""
		switch {
		case b == nil:
			change, name = Added, h.ID().String()
		case h == nil:
			change, name = Removed, b.ID().String()
		default:
			name = h.ID().String()
		}
		ud, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(by), B: difflib.SplitLines(hy),
			FromFile: "base/" + name, ToFile: "head/" + name, Context: 3,
		})
		if err != nil {
			return nil, fmt.Errorf("diff %s: %w", name, err)
		}
		out = append(out, ObjectDiff{Object: name, Change: change, Diff: ud})
	}
	return out, nil
}

// toYAML renders o, with Secret values replaced by "<redacted>" (and, on
// the head side, "<redacted, changed>" where they differ from the base
// object other) and SOPS metadata dropped.
func toYAML(o, other *render.Object) (string, error) {
	obj := o.U.Object
	if o.U.GetKind() == "Secret" || o.Encrypted {
		cp := make(map[string]any, len(obj))
		for k, v := range obj {
			if k != "sops" {
				cp[k] = v
			}
		}
		for _, field := range []string{"data", "stringData"} {
			m, ok := obj[field].(map[string]any)
			if !ok || o.U.GetKind() != "Secret" {
				continue
			}
			var om map[string]any
			if other != nil {
				om, _ = other.U.Object[field].(map[string]any)
			}
			red := make(map[string]any, len(m))
			for k, v := range m {
				red[k] = "<redacted>"
				if ov, ok := om[k]; other != nil && (!ok || fmt.Sprint(ov) != fmt.Sprint(v)) {
					red[k] = "<redacted, changed>"
				}
			}
			cp[field] = red
		}
		obj = cp
	}
	data, err := yaml.Marshal(obj)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", o.ID(), err)
	}
	return string(data), nil
}

// Text renders the diff for a terminal.
func (r *Report) Text() string {
	var b strings.Builder
	a, rm, ch := r.Counts()
	fmt.Fprintf(&b, "diff against %s: %d added, %d removed, %d changed object(s)\n", r.Base, a, rm, ch)
	for _, k := range r.Kustomizations {
		fmt.Fprintf(&b, "=== %s Kustomization %s\n", k.Cluster, k.Kustomization)
		for _, o := range k.Objects {
			fmt.Fprintf(&b, "--- %s %s\n%s", o.Change, o.Object, o.Diff)
		}
	}
	return b.String()
}
