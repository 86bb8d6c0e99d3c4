package render

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"regexp"

	kustomize "github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/resource"
)

// substituter runs Flux's postBuild substitution for one Kustomization. The
// variables from substituteFrom are loaded once with Flux's LoadVariables
// (same lookups, optional handling and newline stripping) and then passed
// inline, which SubstituteVariables treats identically.
type substituter struct {
	obj unstructured.Unstructured
	// unknown is set when some variables come from an object that is not
	// available offline: substitution then runs as Flux's default
	// (non-strict) and missing variables are not reported.
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
	s := &substituter{obj: obj}
	if loadErr != nil {
		return s, true, loadErr
	}
	return s, true, nil
}

var missingVarRe = regexp.MustCompile(`variable not set \(strict mode\): "([^"]+)"`)

// apply substitutes variables in rs. Variables without a value or default
// are returned in missing (Flux, not strict by default, substitutes an
// empty string for them, which is what the result holds).
func (s *substituter) apply(ctx context.Context, rs *resource.Resource, data []byte) (*resource.Resource, []string, error) {
	if !bytes.ContainsRune(data, '$') {
		// Nothing to substitute: Flux's envsubst pass would return the
		// object unchanged.
		return rs, nil, nil
	}
	obj := s.obj
	if s.unknown {
		out, err := kustomize.SubstituteVariables(ctx, nil, obj, rs.DeepCopy())
		return out, nil, err
	}
	var missing []string
	for range 64 {
		out, err := kustomize.SubstituteVariables(ctx, nil, obj, rs.DeepCopy(), kustomize.SubstituteWithStrict(true))
		if err == nil {
			return out, missing, nil
		}
		m := missingVarRe.FindStringSubmatch(err.Error())
		if m == nil {
			return nil, missing, err
		}
		missing = append(missing, m[1])
		if len(missing) == 1 {
			obj = unstructured.Unstructured{Object: obj.DeepCopy().Object}
		}
		vars, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "postBuild", "substitute")
		vars[m[1]] = ""
		_ = unstructured.SetNestedStringMap(obj.Object, vars, "spec", "postBuild", "substitute")
	}
	return nil, missing, fmt.Errorf("too many variables without a value")
}
