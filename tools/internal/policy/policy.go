// Package policy evaluates the repository's Rego pack in-process with
// conftest's Go packages: policy.Load compiles it (Rego v1, conftest's
// loader and checks), and every homelab.* package's deny/warn rules are
// evaluated per rendered object, and homelab.combined.* packages once per
// cluster over conftest's --combine input shape.
//
// The rules are prepared as two queries, one for the per-object packages,
// evaluated per object, and one for the combined packages, evaluated per
// cluster. That gives the same results as conftest's engine.Check (a test
// compares both) at a fraction of the cost.
package policy

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"github.com/open-policy-agent/conftest/output"
	conftest "github.com/open-policy-agent/conftest/policy"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"golang.org/x/sync/errgroup"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// Root is the package prefix the validator evaluates.
const Root = "homelab"

var (
	warnRe = regexp.MustCompile(`^warn(_[a-zA-Z0-9]+)*$`)
	denyRe = regexp.MustCompile(`^(deny|violation)(_[a-zA-Z0-9]+)*$`)
)

type query struct {
	namespace string
	rule      string
	severity  finding.Severity
	// binding is the variable its batch query binds its values to.
	binding string
}

// Engine holds the compiled pack.
type Engine struct {
	conftest *conftest.Engine
	object   []query
	// objectBatch evaluates every query of object in one evaluation, its
	// result i bound to r<i>: one evaluation per object instead of one per
	// object and rule.
	objectBatch rego.PreparedEvalQuery
	combined    []query
	// combinedBatch does the same for combined, once per cluster: the
	// packages share what one evaluation caches (lib.combined_by_kind).
	combinedBatch rego.PreparedEvalQuery
}

// Load compiles the Rego files under dir. Rego unit tests (*_test.rego)
// are left out: they are for `conftest verify` and their fixtures would
// double the compile time of every run.
func Load(ctx context.Context, dir string) (*Engine, error) {
	files, err := regoFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no Rego policy files", dir)
	}
	ce, err := conftest.Load(files, conftest.CompilerOptions{RegoVersion: "v1"})
	if err != nil {
		return nil, err
	}
	e := &Engine{conftest: ce}
	type nsRule struct{ ns, rule string }
	seen := map[nsRule]bool{}
	for _, m := range ce.Modules() {
		ns := strings.TrimPrefix(m.Package.Path.String(), "data.")
		if ns != Root && !strings.HasPrefix(ns, Root+".") || ns == Root+".lib" || strings.HasPrefix(ns, Root+".lib.") {
			continue
		}
		for _, r := range m.Rules {
			name := r.Head.Name.String()
			if name == "" && len(r.Head.Reference) > 0 {
				name = r.Head.Reference[0].String()
			}
			sev := finding.Severity("")
			switch {
			case denyRe.MatchString(name):
				sev = finding.Error
			case warnRe.MatchString(name):
				sev = finding.Warning
			default:
				continue
			}
			if seen[nsRule{ns, name}] {
				continue
			}
			seen[nsRule{ns, name}] = true
			q := query{namespace: ns, rule: name, severity: sev}
			if ns == Root+".combined" || strings.HasPrefix(ns, Root+".combined.") {
				e.combined = append(e.combined, q)
			} else {
				e.object = append(e.object, q)
			}
		}
	}
	byName := func(a, b query) int {
		return cmp.Or(strings.Compare(a.namespace, b.namespace), strings.Compare(a.rule, b.rule))
	}
	slices.SortFunc(e.object, byName)
	slices.SortFunc(e.combined, byName)
	if e.objectBatch, err = prepareBatch(ctx, ce, e.object); err != nil {
		return nil, fmt.Errorf("prepare the per-object rules: %w", err)
	}
	if e.combinedBatch, err = prepareBatch(ctx, ce, e.combined); err != nil {
		return nil, fmt.Errorf("prepare the combined rules: %w", err)
	}
	return e, nil
}

// prepareBatch prepares one query that evaluates all of qs, the values of
// qs[i] bound to qs[i].binding, which it sets. Each rule's values are an
// array, empty when it is undefined, so that one undefined rule does not
// make the whole query undefined.
func prepareBatch(ctx context.Context, ce *conftest.Engine, qs []query) (rego.PreparedEvalQuery, error) {
	if len(qs) == 0 {
		return rego.PreparedEvalQuery{}, nil
	}
	parts := make([]string, len(qs))
	for i := range qs {
		qs[i].binding = fmt.Sprintf("r%d", i)
		parts[i] = fmt.Sprintf("%s := [x | x := data.%s.%s[_]]", qs[i].binding, qs[i].namespace, qs[i].rule)
	}
	return rego.New(rego.Query(strings.Join(parts, "; ")), rego.Compiler(ce.Compiler())).PrepareForEval(ctx)
}

// evalBatch evaluates batch, prepared from qs, on input.
func evalBatch(ctx context.Context, batch rego.PreparedEvalQuery, qs []query, input ast.Value) ([]Result, error) {
	if len(qs) == 0 {
		return nil, nil
	}
	rs, err := batch.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, r := range rs {
		for i := range qs {
			if out, err = qs[i].results(out, r.Bindings[qs[i].binding]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// regoFiles lists the policy modules under dir, in walk order, without
// Rego tests; hidden directories are skipped as conftest's loader does.
func regoFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".rego") && !strings.HasSuffix(path, "_test.rego") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	return files, nil
}

// Namespaces lists the evaluated packages.
func (e *Engine) Namespaces() []string {
	var out []string
	for _, q := range append(slices.Clone(e.object), e.combined...) {
		out = append(out, q.namespace)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Result is one rule result.
type Result struct {
	Namespace string
	Severity  finding.Severity
	Message   string
	Metadata  map[string]any
}

// results appends the results in a rule's value (a set or array of
// messages or result objects) to out.
func (q *query) results(out []Result, value any) ([]Result, error) {
	vals, _ := value.([]any)
	for _, v := range vals {
		switch val := v.(type) {
		case string:
			out = append(out, Result{Namespace: q.namespace, Severity: q.severity, Message: val, Metadata: map[string]any{}})
		case map[string]any:
			res, err := output.NewResult(val)
			if err != nil {
				return nil, fmt.Errorf("data.%s.%s: %w", q.namespace, q.rule, err)
			}
			out = append(out, Result{Namespace: q.namespace, Severity: q.severity, Message: res.Message, Metadata: res.Metadata})
		}
	}
	return out, nil
}

// Evaluate runs the per-object rules on one object (as JSON-like data).
func (e *Engine) Evaluate(ctx context.Context, obj map[string]any) ([]Result, error) {
	val, err := ast.InterfaceToValue(obj)
	if err != nil {
		return nil, fmt.Errorf("convert input: %w", err)
	}
	return e.evaluate(ctx, val)
}

func (e *Engine) evaluate(ctx context.Context, val ast.Value) ([]Result, error) {
	out, err := evalBatch(ctx, e.objectBatch, e.object, val)
	if err != nil {
		return nil, fmt.Errorf("evaluate the per-object rules: %w", err)
	}
	return out, nil
}

// EvaluateCombined runs the combined rules on conftest's --combine input.
func (e *Engine) EvaluateCombined(ctx context.Context, input []any) ([]Result, error) {
	val, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, fmt.Errorf("convert input: %w", err)
	}
	return e.evaluateCombined(ctx, val)
}

func (e *Engine) evaluateCombined(ctx context.Context, val ast.Value) ([]Result, error) {
	out, err := evalBatch(ctx, e.combinedBatch, e.combined, val)
	if err != nil {
		return nil, fmt.Errorf("evaluate the combined rules: %w", err)
	}
	return out, nil
}

// Inputs are rendered objects as OPA values: each object is converted
// once, for its own rules and for the combined rules of its cluster.
type Inputs map[*render.Object]ast.Value

// Convert converts objs, in parallel.
func Convert(ctx context.Context, objs []*render.Object) (Inputs, error) {
	vals := make([]ast.Value, len(objs))
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	const chunk = 256
	for i := 0; i < len(objs); i += chunk {
		g.Go(func() error {
			for j := i; j < min(i+chunk, len(objs)); j++ {
				v, err := ast.InterfaceToValue(objs[j].U.Object)
				if err != nil {
					return fmt.Errorf("%s (%s): convert input: %w", objs[j].ID(), objs[j].File, err)
				}
				vals[j] = v
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	in := make(Inputs, len(objs))
	for i, o := range objs {
		in[o] = vals[i]
	}
	return in, nil
}

// value returns o's value, converting an object that in does not hold.
func (in Inputs) value(o *render.Object) (ast.Value, error) {
	if v, ok := in[o]; ok {
		return v, nil
	}
	v, err := ast.InterfaceToValue(o.U.Object)
	if err != nil {
		return nil, fmt.Errorf("convert input: %w", err)
	}
	return v, nil
}

// CheckObjects evaluates the per-object rules for objs.
func (e *Engine) CheckObjects(ctx context.Context, objs []*render.Object, in Inputs) ([]finding.Finding, error) {
	var out []finding.Finding
	for _, o := range objs {
		val, err := in.value(o)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", o.ID(), o.File, err)
		}
		rs, err := e.evaluate(ctx, val)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", o.ID(), o.File, err)
		}
		for _, r := range rs {
			f := toFinding(r, o.File, o.FindingObject())
			f.Kustomization = o.Owner.Ref.String()
			out = append(out, f)
		}
	}
	return out, nil
}

// CheckCluster evaluates the combined rules over every object of c.
func (e *Engine) CheckCluster(ctx context.Context, c *render.Cluster, in Inputs) ([]finding.Finding, error) {
	if len(e.combined) == 0 {
		return nil, nil
	}
	items := make([]*ast.Term, 0, len(c.Objects))
	for _, o := range c.Objects {
		val, err := in.value(o)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %s (%s): %w", c.Name, o.ID(), o.File, err)
		}
		items = append(items, ast.ObjectTerm(
			ast.Item(ast.InternedTerm("path"), ast.StringTerm(o.File)),
			ast.Item(ast.InternedTerm("contents"), ast.NewTerm(val)),
		))
	}
	rs, err := e.evaluateCombined(ctx, ast.NewArray(items...))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	if len(rs) == 0 {
		return nil, nil
	}
	// Findings name their object by kind, namespace and name; the first
	// rendered object with that identity gives the apiVersion and the file.
	type identity struct{ kind, namespace, name string }
	first := make(map[identity]*render.Object, len(c.Objects))
	for _, o := range c.Objects {
		id := identity{o.U.GetKind(), o.U.GetNamespace(), o.U.GetName()}
		if _, ok := first[id]; !ok {
			first[id] = o
		}
	}
	var out []finding.Finding
	for _, r := range rs {
		str := func(k string) string { s, _ := r.Metadata[k].(string); return s }
		obj := finding.Object{Kind: str("kind"), Namespace: str("namespace"), Name: str("name")}
		file := str("path")
		if o, ok := first[identity{obj.Kind, obj.Namespace, obj.Name}]; ok {
			obj.APIVersion = o.U.GetAPIVersion()
			if file == "" {
				file = o.File
			}
		}
		out = append(out, toFinding(r, file, obj))
	}
	return out, nil
}

func toFinding(r Result, file string, obj finding.Object) finding.Finding {
	rule, _ := r.Metadata["rule"].(string)
	if rule == "" {
		rule = strings.ReplaceAll(strings.TrimPrefix(r.Namespace, Root+"."), ".", "-")
	}
	hint, _ := r.Metadata["hint"].(string)
	if hint == "" {
		hint = fmt.Sprintf("Fix the object, or add the annotation exceptions.policy.homelab.dev/%s: \"<reason>\" if it is a deliberate exception.", rule)
	}
	return finding.Finding{
		Rule:     rule,
		Class:    finding.ClassPolicy,
		Severity: r.Severity,
		File:     file,
		Object:   obj,
		Message:  r.Message,
		Hint:     hint,
	}
}
