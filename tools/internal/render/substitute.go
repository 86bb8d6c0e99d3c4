package render

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fluxcd/pkg/envsubst"
	"github.com/fluxcd/pkg/envsubst/parse"

	kustomize "github.com/fluxcd/pkg/kustomize"
	yamlv2 "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/resource"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"
)

// substituter runs Flux's postBuild substitution for one Kustomization. The
// variables from substituteFrom are loaded once with Flux's LoadVariables
// (same lookups, optional handling and newline stripping) and merged with
// the inline ones, as SubstituteVariables does.
type substituter struct {
	// vars are the variables, substituteFrom and inline merged.
	vars map[string]string
	// unknown is set when some variables come from an object that is not
	// available offline: a variable without a value or default is then
	// unknown rather than missing; it is kept as ${VAR} (not reported, and
	// the checks leave fields holding it alone).
	unknown bool
	// invalid is set when a variable name is one Flux rejects: it then
	// fails the substitution of every object.
	invalid error
}

// newSubstituter reports ok=false when the Kustomization has no postBuild
// (Flux then does not substitute at all).
func newSubstituter(ctx context.Context, k *Kustomization, vars client.Client) (*substituter, bool, error) {
	pb, found, _ := unstructured.NestedMap(k.Obj.Object, "spec", "postBuild")
	if !found || pb == nil {
		return nil, false, nil
	}
	var loaded map[string]string
	var loadErr error
	if _, has := pb["substituteFrom"]; has {
		if vars == nil {
			loadErr = fmt.Errorf("no ConfigMaps or Secrets available")
		} else {
			loaded, loadErr = kustomize.LoadVariables(ctx, vars, *k.Obj)
		}
	}
	inline, _, _ := unstructured.NestedStringMap(k.Obj.Object, "spec", "postBuild", "substitute")
	merged := make(map[string]string, len(loaded)+len(inline))
	maps.Copy(merged, loaded)
	for name, v := range inline {
		// Flux drops newlines from inline values too.
		merged[name] = strings.ReplaceAll(v, "\n", "")
	}
	s := &substituter{vars: merged}
	for _, name := range slices.Sorted(maps.Keys(merged)) {
		if !varName.MatchString(name) {
			s.invalid = fmt.Errorf("envsubst error: '%s' var name is invalid, must match '%s'", name, varName)
			break
		}
	}
	return s, true, loadErr
}

// MissingVar is a variable referenced without a value or default.
type MissingVar struct {
	Name string
	// Field is the dotted path of the field (or map key) that references
	// it, as in finding.Finding.Field.
	Field string
}

// wants reports whether Flux's substitution can change rs, whose JSON-typed
// data is m: it holds a '$' (in a key or a string), there are variables
// (or unknown ones, from an object Flux does read), and the object does
// not turn substitution off. Any other object comes out of Flux's
// substitution as it went in.
func (s *substituter) wants(rs *resource.Resource, m map[string]any) bool {
	return (len(s.vars) > 0 || s.unknown) && AnyString(m, true, func(s string) bool { return strings.IndexByte(s, '$') >= 0 }) &&
		rs.GetLabels()[substituteKey] != kustomize.DisabledValue && rs.GetAnnotations()[substituteKey] != kustomize.DisabledValue
}

// AnyString reports whether match holds for a string value under v
// (JSON-typed data), or, with keys set, for a map key.
func AnyString(v any, keys bool, match func(string) bool) bool {
	switch v := v.(type) {
	case string:
		return match(v)
	case map[string]any:
		for k, e := range v {
			if keys && match(k) || AnyString(e, keys, match) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if AnyString(e, keys, match) {
				return true
			}
		}
	}
	return false
}

// apply returns rs as JSON-typed data after Flux's default (not strict)
// substitution: a variable without a value or default becomes an empty
// string. Such variables are returned in missing, each once, at the first
// field that references it. When the values are unknown (s.unknown), such
// variables are returned in unknown instead and substituted by
// themselves, ${VAR}. Call it only for objects s.wants.
//
// It does what kustomize.SubstituteVariables does (the object as YAML,
// envsubst on the text, YAML to JSON) without its last step, decoding the
// JSON back into the resource, which the caller would only encode again.
// The YAML is made as rs.AsYAML makes it, from the object's JSON: the JSON
// of m, which is rs.MarshalJSON() without its YAML encode and decode (byte
// for byte but for an integer beyond int64 and negative zero, which come
// out of the substitution as the same values either way; TestToJSONMap),
// and then JSONToYAML. substitutionText and substituted make the text and
// read the result without the JSON encoding and decoding between
// (TestJSONToYAML, TestSubstituted).
func (s *substituter) apply(rs *resource.Resource, m map[string]any) (_ map[string]any, missing []MissingVar, unknown []string, err error) {
	self := map[string]bool{}
	if s.unknown {
		for _, v := range missingVars(rs.YNode(), s.vars) {
			self[v.Name] = true
			unknown = append(unknown, v.Name)
		}
	} else {
		missing = missingVars(rs.YNode(), s.vars)
	}
	if s.invalid != nil {
		return nil, missing, unknown, s.invalid
	}
	mapping := func(name string) (string, bool) {
		if self[name] {
			return "${" + name + "}", true
		}
		return s.vars[name], true
	}
	if v, ok := substituteData(m, mapping); ok {
		return v, missing, unknown, nil
	}
	text, err := substitutionText(m)
	if err != nil {
		return nil, missing, unknown, err
	}
	out, err := envsubst.Eval(string(text), mapping)
	if err != nil {
		return nil, missing, unknown, fmt.Errorf("envsubst error: variable substitution failed: %w", err)
	}
	m, err = substituted([]byte(out))
	return m, missing, unknown, err
}

// substitutionText returns the YAML text Flux substitutes variables in:
// what JSONToYAML makes of json.Marshal(m). The values of m, JSON-typed
// data, are converted straight to what YAML v2 decodes their JSON into;
// a value of another type takes the way through JSON.
func substitutionText(m map[string]any) ([]byte, error) {
	if v, ok := yamlOfJSON(m); ok {
		return yamlv2.Marshal(v)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return jsonToYAML(data)
}

// yamlOfJSON converts JSON-typed data as jsonToYAML converts its JSON
// text; false for a value it does not convert so.
func yamlOfJSON(v any) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[any]any, len(v))
		for k, e := range v {
			y, ok := yamlOfJSON(e)
			if !ok || !utf8.ValidString(k) {
				return nil, false
			}
			m[k] = y
		}
		return m, true
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			y, ok := yamlOfJSON(e)
			if !ok {
				return nil, false
			}
			s[i] = y
		}
		return s, true
	case string:
		// json.Marshal replaces invalid UTF-8.
		return v, utf8.ValidString(v)
	case bool, nil, int64:
		// YAML v2 writes an int64 as it writes the int it decodes.
		return v, true
	case float64:
		// A float that JSON writes as an integer beyond int64 decodes
		// as uint64 in YAML v2, which writes its digits.
		text, err := json.Marshal(v)
		if err != nil {
			return nil, false
		}
		return yamlNumber(string(text)), true
	}
	return nil, false
}

// substituted returns the substituted text as JSON-typed data, as Flux's
// YAMLToJSON and this package's JSON decoding make it: the YAML v2 decoding
// converted straight to JSON types. Anything the straight conversion does
// not handle (a document that is not an object, keys that collide once
// written as strings, values JSON cannot hold) takes that way, for the
// same result or error.
func substituted(text []byte) (map[string]any, error) {
	var v any
	if err := yamlv2.Unmarshal(text, &v); err != nil {
		return nil, fmt.Errorf("envsubst error: YAMLToJSON: %w", err)
	}
	switch v.(type) {
	case nil:
		return nil, nil
	case map[any]any:
		if j, ok := jsonOfYAML(v); ok {
			return j.(map[string]any), nil
		}
	}
	data, err := yaml.YAMLToJSON(text)
	if err != nil {
		return nil, fmt.Errorf("envsubst error: YAMLToJSON: %w", err)
	}
	return jsonBytesToMap(data)
}

// jsonOfYAML converts what YAML v2 decodes into what JSONToYAML's JSON
// decodes into with this package's decoding: keys as sigs.k8s.io/yaml
// writes them, int64 for integers and for floats that JSON writes as
// integers, float64 for other numbers.
func jsonOfYAML(v any) (any, bool) {
	switch v := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			key, ok := yamlKeyString(k)
			if !ok {
				return nil, false
			}
			if _, dup := m[key]; dup {
				return nil, false
			}
			j, ok := jsonOfYAML(e)
			if !ok {
				return nil, false
			}
			m[key] = j
		}
		return m, true
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			j, ok := jsonOfYAML(e)
			if !ok {
				return nil, false
			}
			s[i] = j
		}
		return s, true
	case string:
		return v, utf8.ValidString(v)
	case bool, nil:
		return v, true
	case int, int64, uint64, float64:
		j, err := jsonValue(v)
		return j, err == nil
	}
	return nil, false
}

// yamlKeyString writes a YAML v2 key as sigs.k8s.io/yaml's
// convertToJSONableObject does; false for a key it rejects.
func yamlKeyString(k any) (string, bool) {
	switch k := k.(type) {
	case string:
		return k, utf8.ValidString(k)
	case int:
		return strconv.Itoa(k), true
	case int64:
		return strconv.FormatInt(k, 10), true
	case float64:
		s := strconv.FormatFloat(k, 'g', -1, 32)
		switch s {
		case "+Inf":
			s = ".inf"
		case "-Inf":
			s = "-.inf"
		case "NaN":
			s = ".nan"
		}
		return s, true
	case bool:
		return strconv.FormatBool(k), true
	}
	return "", false
}

// substituteKey is the label or annotation that turns substitution off for
// one object (value kustomize.DisabledValue).
const substituteKey = "kustomize.toolkit.fluxcd.io/substitute"

// varName is what Flux accepts as a variable name; any other name fails
// the substitution of every object.
var varName = regexp.MustCompile(`^[_[:alpha:]][_[:alpha:][:digit:]]*$`)

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

// jsonToYAML returns what sigs.k8s.io/yaml.JSONToYAML returns for j (the
// text Flux substitutes variables in), without its slow step: that parses
// the JSON with the YAML v2 parser to pick each number's Go type. Here
// encoding/json reads it and each number gets the type YAML v2 resolves
// the same text to (int, int64, uint64 or float64, a string when out of
// range), in the same map and slice types, so the YAML v2 encoder writes
// the same text. TestJSONToYAML compares the two.
func jsonToYAML(j []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		// Not JSON: JSONToYAML's own answer (YAML v2 reads more).
		return yaml.JSONToYAML(j)
	}
	if _, err := dec.Token(); err != io.EOF {
		return yaml.JSONToYAML(j)
	}
	return yamlv2.Marshal(yamlValue(v))
}

// yamlValue converts a value decoded by encoding/json (with UseNumber)
// into what YAML v2 decodes the same JSON into.
func yamlValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[any]any, len(v))
		for k, e := range v {
			m[k] = yamlValue(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = yamlValue(e)
		}
		return v
	case json.Number:
		return yamlNumber(string(v))
	}
	return v
}

// yamlNumber resolves a JSON number as YAML v2 resolves a plain scalar
// (resolve.go): an int when it fits, else int64, else uint64, else a
// float64, else the text itself.
func yamlNumber(s string) any {
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		if i == int64(int(i)) {
			return int(i)
		}
		return i
	}
	if u, err := strconv.ParseUint(s, 0, 64); err == nil {
		return u
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return s
}
