// Package healthexpr checks the CEL health checks of Flux Kustomizations
// (spec.healthCheckExprs) the way kustomize-controller evaluates them: each
// expression must parse, and none may call an object healthy before its
// controller has written anything in its status.
package healthexpr

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// newEnv is the CEL environment of Flux's runtime/cel package: expressions
// are parsed, not type-checked (custom resources have no declared types),
// with the same language options and extensions.
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
	)
}

// status is a kstatus result as Flux's StatusEvaluator returns it.
type status string

const (
	inProgress status = "InProgress"
	failed     status = "Failed"
	current    status = "Current"
	unknown    status = "Unknown" // an expression failed to evaluate
)

// expr is one parsed expression of a healthCheckExprs entry.
type expr struct {
	field  string // current, failed or inProgress
	status status // what the object is when the expression is true
	source string
	prog   cel.Program
}

// probe is an object of the checked kind as it is before its controller
// reconciles it.
type probe struct {
	what string
	obj  map[string]any
}

// Check reports, for every healthCheckExprs entry of every Kustomization
// of c, an expression that does not parse or evaluates to something other
// than a boolean, and a set of expressions that reports Current for an
// object without status, with an empty status, or with an empty condition
// list.
func Check(ctx context.Context, c *render.Cluster) ([]finding.Finding, error) {
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	var out []finding.Finding
	for _, k := range c.Kustomizations {
		if k.Synthetic || k.Obj == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("health check expressions of Kustomization %s: %w", k.Ref, err)
		}
		entries, _, _ := unstructured.NestedSlice(k.Obj.Object, "spec", "healthCheckExprs")
		for i, e := range entries {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			fs, err := checkEntry(ctx, env, c, k, i, m)
			if err != nil {
				return nil, err
			}
			out = append(out, fs...)
		}
	}
	return out, nil
}

func checkEntry(ctx context.Context, env *cel.Env, c *render.Cluster, k *render.Kustomization, i int, m map[string]any) ([]finding.Finding, error) {
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	at := func(rule, field, msg string) finding.Finding {
		f := finding.New(rule, k.File, 0, 0, k.FindingObject(),
			fmt.Sprintf("Kustomization %s healthCheckExprs[%d] (%s %s): %s", k.Ref, i, apiVersion, kind, msg))
		f.Field = "spec.healthCheckExprs." + strconv.Itoa(i) + "." + field
		f.Kustomization = k.Ref.String()
		return f
	}
	var out []finding.Finding
	var exprs []expr
	// The order in which Flux evaluates them (RFC 0009), with the status
	// each one gives when true.
	fields := []struct {
		name   string
		status status
	}{{"inProgress", inProgress}, {"failed", failed}, {"current", current}}
	for _, fd := range fields {
		field := fd.name
		src, _ := m[field].(string)
		if src == "" {
			if field == "current" {
				out = append(out, at(finding.GraphHealthInvalid, field, "current is empty; kustomize-controller rejects the entry"))
			}
			continue
		}
		ast, iss := env.Parse(src)
		if iss.Err() != nil {
			out = append(out, at(finding.GraphHealthInvalid, field, fmt.Sprintf("%s %q does not parse: %s", field, src, describe(iss))))
			continue
		}
		prog, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(100))
		if err != nil {
			out = append(out, at(finding.GraphHealthInvalid, field, fmt.Sprintf("%s %q cannot be evaluated: %v", field, src, err)))
			continue
		}
		exprs = append(exprs, expr{field: field, status: fd.status, source: src, prog: prog})
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, p := range probes(c, apiVersion, kind, k) {
		st, bad, err := evaluate(ctx, exprs, p.obj)
		if err != nil {
			return nil, err
		}
		if bad != nil {
			out = append(out, at(finding.GraphHealthInvalid, bad.field, fmt.Sprintf("%s %q does not evaluate to a boolean for an object with %s; kustomize-controller never gets a status from it", bad.field, bad.source, p.what)))
			break
		}
		if st == current {
			src, _ := m["current"].(string)
			out = append(out, at(finding.GraphHealthCurrent, "current", fmt.Sprintf("current %q is true for an object with %s, before its controller has reported anything: the Kustomization counts it healthy at once and its dependants start too early; make it false until the condition exists, e.g. status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')", src, p.what)))
			break
		}
	}
	return out, nil
}

// describe puts CEL's parse errors on one line, each with its column in
// the expression (CEL's own text spans lines, with a caret under the error).
func describe(iss *cel.Issues) string {
	var parts []string
	for _, e := range iss.Errors() {
		parts = append(parts, fmt.Sprintf("column %d: %s", e.Location.Column()+1, e.Message))
	}
	return strings.Join(parts, "; ")
}

// evaluate runs the expressions in order as Flux's StatusEvaluator does:
// the first that is true gives the status, an evaluation error gives none
// (Unknown), and InProgress when none is true. It returns the expression
// whose value is not a boolean, if any.
func evaluate(ctx context.Context, exprs []expr, obj map[string]any) (status, *expr, error) {
	for i, e := range exprs {
		v, _, err := e.prog.ContextEval(ctx, obj)
		if err != nil {
			if ctx.Err() != nil {
				return "", nil, fmt.Errorf("evaluate %s: %w", e.source, ctx.Err())
			}
			return unknown, nil, nil // a missing field: Flux waits
		}
		b, ok := v.(types.Bool)
		if !ok {
			return "", &exprs[i], nil
		}
		if b {
			return e.status, nil, nil
		}
	}
	return inProgress, nil, nil
}

// probes are objects of the entry's kind as they are before their
// controller has reported: the repository's first object of that kind (so
// expressions may use its spec), or a bare one, without status, with an
// empty status and with an empty condition list.
func probes(c *render.Cluster, apiVersion, kind string, k *render.Kustomization) []probe {
	base := map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": "probe", "namespace": k.Namespace, "generation": int64(1)},
	}
	for _, o := range c.Objects {
		if o.U.GetAPIVersion() == apiVersion && o.U.GetKind() == kind {
			base = o.U.DeepCopy().Object
			delete(base, "status")
			break
		}
	}
	with := func(st map[string]any) map[string]any {
		cp := (&unstructured.Unstructured{Object: base}).DeepCopy().Object
		cp["status"] = st
		return cp
	}
	return []probe{
		{"no status", base},
		{"an empty status", with(map[string]any{})},
		{"an empty condition list", with(map[string]any{"conditions": []any{}})},
	}
}
