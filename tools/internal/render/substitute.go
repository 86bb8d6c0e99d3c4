package render

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/fluxcd/pkg/envsubst/parse"

	kustomize "github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/resource"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// substituter runs Flux's postBuild substitution for one Kustomization. The
// variables from substituteFrom are loaded once with Flux's LoadVariables
// (same lookups, optional handling and newline stripping) and then passed
// inline, which SubstituteVariables treats identically.
type substituter struct {
	obj unstructured.Unstructured
	// vars are the variables, substituteFrom and inline merged.
	vars map[string]string
	// unknown is set when some variables come from an object that is not
	// available offline: a variable without a value or default is then
	// unknown rather than missing; it is kept as ${VAR} (not reported, and
	// the checks leave fields holding it alone).
	unknown bool
}

// newSubstituter reports ok=false when the Kustomization has no postBuild
// (Flux then does not substitute at all).
func newSubstituter(ctx context.Context, k *Kustomization, vars client.Client) (*substituter, bool, error) {
	pb, found, _ := unstructured.NestedMap(k.Obj.Object, "spec", "postBuild")
	if !found || pb == nil {
		return nil, false, nil
	}
	obj := unstructured.Unstructured{Object: k.Obj.DeepCopy().Object}
	var loaded map[string]string
	var loadErr error
	if _, has := pb["substituteFrom"]; has {
		if vars == nil {
			loadErr = fmt.Errorf("no ConfigMaps or Secrets available")
		} else {
			loaded, loadErr = kustomize.LoadVariables(ctx, vars, obj)
		}
	}
	inline, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "postBuild", "substitute")
	merged := make(map[string]string, len(loaded)+len(inline))
	maps.Copy(merged, loaded)
	maps.Copy(merged, inline)
	unstructured.RemoveNestedField(obj.Object, "spec", "postBuild", "substituteFrom")
	if err := unstructured.SetNestedStringMap(obj.Object, merged, "spec", "postBuild", "substitute"); err != nil {
		return nil, false, fmt.Errorf("set variables: %w", err)
	}
	s := &substituter{obj: obj, vars: merged}
	if loadErr != nil {
		return s, true, loadErr
	}
	return s, true, nil
}

// MissingVar is a variable referenced without a value or default.
type MissingVar struct {
	Name string
	// Field is the dotted path of the field (or map key) that references
	// it, as in finding.Finding.Field.
	Field string
}

// apply substitutes variables in rs as Flux does by default (not strict):
// a variable without a value or default becomes an empty string. Such
// variables are returned in missing, each once, at the first field that
// references it. When the values are unknown (s.unknown), they are
// returned in unknown instead and substituted by themselves, ${VAR}.
func (s *substituter) apply(ctx context.Context, rs *resource.Resource, data []byte) (out *resource.Resource, missing []MissingVar, unknown []string, err error) {
	if !bytes.ContainsRune(data, '$') {
		// Nothing to substitute: Flux's envsubst pass would return the
		// object unchanged.
		return rs, nil, nil, nil
	}
	obj := s.obj
	switch {
	case s.unknown:
		var self map[string]string
		for _, v := range missingVars(rs.YNode(), s.vars) {
			if self == nil {
				self = maps.Clone(s.vars)
			}
			self[v.Name] = "${" + v.Name + "}"
			unknown = append(unknown, v.Name)
		}
		if self != nil {
			obj = *s.obj.DeepCopy()
			if err := unstructured.SetNestedStringMap(obj.Object, self, "spec", "postBuild", "substitute"); err != nil {
				return nil, nil, nil, fmt.Errorf("set variables: %w", err)
			}
		}
	case len(s.vars) > 0: // with no variables at all, Flux does not substitute
		missing = missingVars(rs.YNode(), s.vars)
	}
	out, err = kustomize.SubstituteVariables(ctx, nil, obj, rs.DeepCopy())
	if out == nil && err == nil {
		return nil, nil, nil, nil // substitution disabled by annotation or label
	}
	return out, missing, unknown, err
}

// missingVars walks the object's keys and string values in document order
// and parses each one that may reference a variable with Flux's envsubst
// parser, once: a variable is missing where Flux's strict mode would fail,
// that is referenced bare or with a transformation (${VAR}, ${VAR^^})
// rather than with a default operator (${VAR:=x}, ${VAR:-x}), including
// inside another expansion's arguments. A string that does not parse is
// left to the substitution, which reports it.
func missingVars(root *kyaml.Node, vars map[string]string) []MissingVar {
	var out []MissingVar
	seen := map[string]bool{}
	check := func(text string, path []string) {
		if !strings.Contains(text, "${") {
			return
		}
		tree, err := parse.Parse(text)
		if err != nil {
			return
		}
		var walk func(n parse.Node)
		walk = func(n parse.Node) {
			switch n := n.(type) {
			case *parse.ListNode:
				for _, c := range n.Nodes {
					walk(c)
				}
			case *parse.FuncNode:
				for _, a := range n.Args {
					walk(a)
				}
				if _, ok := vars[n.Param]; !ok && !isDefaultOp(n.Name) && !seen[n.Param] {
					seen[n.Param] = true
					out = append(out, MissingVar{Name: n.Param, Field: strings.Join(path, ".")})
				}
			}
		}
		walk(tree.Root)
	}
	var walk func(n *kyaml.Node, path []string)
	walk = func(n *kyaml.Node, path []string) {
		switch n.Kind {
		case kyaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case kyaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				p := append(slices.Clip(path), key)
				check(key, p)
				walk(n.Content[i+1], p)
			}
		case kyaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(slices.Clip(path), strconv.Itoa(i)))
			}
		case kyaml.ScalarNode:
			check(n.Value, path)
		}
	}
	walk(root, nil)
	return out
}

// isDefaultOp reports whether an expansion operator supplies its own value
// when the variable is unset, as envsubst's strict mode tolerates.
func isDefaultOp(name string) bool {
	switch name {
	case "-", "+", "=", "?", ":-", ":+", ":=", ":?":
		return true
	}
	return false
}
