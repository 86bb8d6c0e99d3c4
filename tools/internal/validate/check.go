package validate

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	policypack "github.com/homelab-gitops/homelab/policies"
	"github.com/homelab-gitops/homelab/tools/internal/config"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/graph"
	"github.com/homelab-gitops/homelab/tools/internal/healthexpr"
	"github.com/homelab-gitops/homelab/tools/internal/helmcheck"
	"github.com/homelab-gitops/homelab/tools/internal/policy"
	"github.com/homelab-gitops/homelab/tools/internal/refs"
	"github.com/homelab-gitops/homelab/tools/internal/render"
	"github.com/homelab-gitops/homelab/tools/internal/schema"
	"github.com/homelab-gitops/homelab/tools/internal/secretcheck"
	"github.com/homelab-gitops/homelab/tools/schemas"
)

// newValidator builds the schema validator over the embedded CRDs and the
// config's CRD directories (nil when schema checks are skipped).
func (r *run) newValidator(opts Options) (*schema.Validator, error) {
	if opts.Skip[finding.ClassSchema] {
		return nil, nil
	}
	return r.schemas()
}

// loadSchemas returns a validator over the embedded CRDs and the config's
// CRD directories.
func (r *run) loadSchemas() (*schema.Validator, error) {
	fsys := []fs.FS{schemas.Compiled}
	for _, d := range r.cfg.CRDs {
		fsys = append(fsys, os.DirFS(filepath.Join(r.root, filepath.FromSlash(d))))
	}
	v, err := schema.New(fsys...)
	if err != nil {
		return nil, err
	}
	if err := v.AddLegacy(schemas.Legacy); err != nil {
		return nil, err
	}
	return v, nil
}

// preload starts loading, in the background, the CRD of o's kind and
// compiling its CEL rules, so that this happens while the (serial) builds go
// on rather than when the checks need them.
func (r *run) preload(o *render.Object) {
	if r.validator == nil {
		return
	}
	av, kind := o.U.GetAPIVersion(), o.U.GetKind()
	if _, loaded := r.preloaded.LoadOrStore(av+"/"+kind, true); !loaded {
		go r.validator.PreloadKind(av, kind)
	}
}

// checkTools are what the checks need that takes time to build: the schema
// validator and the compiled Rego pack. They are prepared while rendering.
type checkTools struct {
	validator *schema.Validator
	engine    *policy.Engine
	// builtin is set when engine runs the validator's own pack on a
	// repository that has none.
	builtin bool
	err     error
}

func (r *run) prepare(ctx context.Context, opts Options) <-chan checkTools {
	ch := make(chan checkTools, 1)
	go func() {
		t := checkTools{validator: r.validator}
		var wg sync.WaitGroup
		var perr error
		dir := r.policyDir(opts)
		if dir == "" && opts.Policies != "-" && !opts.NoBuiltinPolicies {
			dir = filepath.Join(r.tmp, "builtin-policies")
			if err := policypack.Extract(dir); err != nil {
				t.err = err
				ch <- t
				return
			}
			t.builtin = true
		}
		if dir != "" && !opts.Skip[finding.ClassPolicy] {
			wg.Go(func() {
				e, err := policy.Load(ctx, dir)
				if err != nil {
					perr = fmt.Errorf("load policies: %w", err)
					return
				}
				t.engine = e
			})
		}
		wg.Wait()
		t.err = perr
		ch <- t
	}()
	return ch
}

// check runs every check over the rendered clusters. Checks of single
// objects run in parallel; cross-object checks run per cluster.
func (r *run) check(ctx context.Context, clusters []*render.Cluster, failed []string, prep <-chan checkTools, opts Options) ([]finding.Finding, error) {
	var (
		mu  sync.Mutex
		out []finding.Finding
	)
	add := func(fs ...finding.Finding) {
		mu.Lock()
		out = append(out, fs...)
		mu.Unlock()
	}
	skip := func(c finding.Class) bool { return opts.Skip[c] }

	// Parse: every file that contributed an object, and the files a failed
	// build names (a syntax error there is the likely cause).
	files := map[string]bool{}
	for _, f := range failed {
		if ext := filepath.Ext(f); ext == ".yaml" || ext == ".yml" {
			files[f] = true
		}
	}
	for _, c := range clusters {
		for _, o := range c.Objects {
			files[o.File] = true
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	if !skip(finding.ClassParse) {
		// Most files are parsed here for the first time: on every core.
		paths := slices.Collect(maps.Keys(files))
		const chunk = 64
		for i := 0; i < len(paths); i += chunk {
			g.Go(func() error {
				for _, f := range paths[i:min(i+chunk, len(paths))] {
					if pf, err := r.files.Get(f); err == nil {
						add(pf.Findings...)
					}
				}
				return nil
			})
		}
	}

	tools := <-prep
	if tools.err != nil {
		_ = g.Wait()
		return nil, tools.err
	}
	validator, engine := tools.validator, tools.engine
	checkPolicies := func(pf []finding.Finding, err error) ([]finding.Finding, error) {
		if tools.builtin {
			pf = builtinSeverity(pf)
		}
		return pf, err
	}
	if v := validator; v != nil {
		for _, c := range clusters {
			for _, o := range c.Objects {
				if o.U.GetKind() == "CustomResourceDefinition" && strings.HasPrefix(o.U.GetAPIVersion(), "apiextensions.k8s.io/") {
					if err := v.AddCRD(o.U, o.File); err != nil {
						add(finding.New(finding.SchemaInvalid, o.File, 0, 0, o.FindingObject(), fmt.Sprintf("CustomResourceDefinition %s cannot be compiled: %v", o.U.GetName(), err)))
					}
				}
			}
		}
	}

	// Each object as the policies' input, once for its own rules and the
	// combined rules of its cluster.
	inputs := make([]policy.Inputs, len(clusters))
	if engine != nil {
		for i, c := range clusters {
			in, err := policy.Convert(gctx, c.Objects)
			if err != nil {
				_ = g.Wait()
				return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
			}
			inputs[i] = in
		}
	}

	var noSchema kindTally
	// The cluster-wide checks first: they are one long task (the combined
	// policies scan every object), which the per-object chunks then fill
	// in around rather than wait for at the end.
	for ci, c := range clusters {
		g.Go(func() error {
			var fs []finding.Finding
			if validator != nil {
				fs = append(fs, fluxAPIFindings(c, r.fluxRelease(c))...)
			}
			if !skip(finding.ClassGraph) {
				var b graph.Builtins
				if validator != nil {
					b = validator
				}
				gf := graph.Check(c, b, r.preinstalled)
				if r.cfg.File == "" {
					gf = foreignSeverity(gf)
				}
				fs = append(fs, gf...)
				hf, err := healthexpr.Check(gctx, c)
				if err != nil {
					return fmt.Errorf("cluster %s: health check expressions: %w", c.Name, err)
				}
				fs = append(fs, hf...)
			}
			if !skip(finding.ClassReference) {
				fs = append(fs, refs.Check(c, r.cfg)...)
			}
			if r.cfg.Flows != nil && !skip(finding.ClassFlow) {
				fs = append(fs, r.checkFlows(c)...)
			}
			if !skip(finding.ClassHelm) {
				hf := helmcheck.Check(c)
				if r.cfg.RequireCharts {
					for i := range hf {
						if hf[i].Rule == finding.HelmNotRendered {
							hf[i].Severity = finding.Error
							hf[i].Message += " (requireCharts in " + config.FileName + ")"
						}
					}
				}
				fs = append(fs, hf...)
			}
			if engine != nil {
				pf, err := checkPolicies(engine.CheckCluster(gctx, c, inputs[ci]))
				if err != nil {
					return err
				}
				fs = append(fs, pf...)
			}
			add(inCluster(c.Name, fs)...)
			return nil
		})
	}
	for ci, c := range clusters {
		// Per-object checks in chunks.
		const chunk = 64
		for i := 0; i < len(c.Objects); i += chunk {
			objs := c.Objects[i:min(i+chunk, len(c.Objects))]
			g.Go(func() error {
				var fs []finding.Finding
				policyObjs := objs
				for _, o := range objs {
					if fromChart(o) {
						// Helm writes it in the cluster: no file in Git to
						// encrypt, so neither the Secret check nor the
						// policies about Secrets in Git apply.
						policyObjs = slices.DeleteFunc(slices.Clone(objs), fromChart)
						break
					}
				}
				for _, o := range objs {
					if validator != nil {
						for _, f := range schemaFindings(validator, o) {
							if f.Rule == finding.SchemaNoSchema {
								noSchema.add(c.Name, o, f)
								continue
							}
							fs = append(fs, f)
						}
					}
					if !skip(finding.ClassSecret) && !fromChart(o) {
						fs = append(fs, secretcheck.Check(o, r.committed(o))...)
					}
				}
				if engine != nil {
					pf, err := checkPolicies(engine.CheckObjects(gctx, policyObjs, inputs[ci]))
					if err != nil {
						return err
					}
					fs = append(fs, pf...)
				}
				add(inCluster(c.Name, fs)...)
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if validator != nil {
		for _, err := range validator.LoadErrors() {
			out = append(out, finding.New(finding.SchemaInvalid, "", 0, 0, finding.Object{Kind: "CustomResourceDefinition"},
				fmt.Sprintf("CustomResourceDefinition cannot be used for validation: %v", err)))
		}
	}
	return append(out, noSchema.findings()...), nil
}

// fromChart reports a Secret rendered from a Helm chart.
func fromChart(o *render.Object) bool {
	return o.Chart != nil && o.U.GetKind() == "Secret" && o.U.GetAPIVersion() == "v1"
}

// kindTally reports objects without a schema once per cluster and kind.
type kindTally struct {
	mu    sync.Mutex
	first map[string]*finding.Finding
	count map[string]int
	order []string
}

func (t *kindTally) add(cluster string, o *render.Object, f finding.Finding) {
	id := o.ID()
	key := cluster + "\x00" + id.Group + "/" + id.Kind
	f.Cluster = cluster
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.first == nil {
		t.first, t.count = map[string]*finding.Finding{}, map[string]int{}
	}
	// The representative is the first by file and object, not by arrival:
	// objects are checked in parallel.
	if first := t.first[key]; first == nil || cmp.Or(strings.Compare(f.File, first.File), strings.Compare(f.Object.String(), first.Object.String())) < 0 {
		if t.first[key] == nil {
			t.order = append(t.order, key)
		}
		t.first[key] = &f
	}
	t.count[key]++
}

func (t *kindTally) findings() []finding.Finding {
	var out []finding.Finding
	for _, key := range t.order {
		f := *t.first[key]
		if n := t.count[key]; n > 1 {
			f.Message += fmt.Sprintf(" (and %d more %s object(s) in this cluster)", n-1, f.Object.Kind)
		}
		out = append(out, f)
	}
	return out
}

// builtinConventions are the areas of the built-in pack that encode this
// platform's design (Flux intervals and remediation, default-deny networks
// behind one Gateway, replicas and probes) rather than defects: on a
// repository that did not adopt the pack they are infos.
var builtinConventions = []string{"flux-", "network-", "reliability-"}

// builtinSeverity lowers the built-in pack's findings: a repository that
// did not adopt this project's pack is told about them but not failed on.
// Security, secret, data and certificate findings become warnings; the
// conventions and every warn rule, infos.
func builtinSeverity(fs []finding.Finding) []finding.Finding {
	for i := range fs {
		convention := false
		for _, p := range builtinConventions {
			convention = convention || strings.HasPrefix(fs[i].Rule, p)
		}
		switch {
		case fs[i].Severity == finding.Error && !convention:
			fs[i].Severity = finding.Warning
		default:
			fs[i].Severity = finding.Info
		}
		fs[i].Hint += " (Built-in policy pack: this repository has no policies/ of its own. Copy the pack to enforce it, or pass --builtin-policies=false.)"
	}
	return fs
}

// foreignConventions are the built-in rules that hold this project's
// conventions rather than defects: graph-timeout-short is true by the
// behaviour it describes (a waiting Kustomization gives up while Helm still
// retries), but only matters when an install or upgrade fails.
var foreignConventions = []string{finding.GraphTimeout}

// foreignSeverity lowers the convention rules' errors to warnings on a
// repository without a .gitops-validate.yaml of its own, as builtinSeverity
// does for the built-in policy pack: a repository that did not adopt the
// validator is told, not failed.
func foreignSeverity(fs []finding.Finding) []finding.Finding {
	for i := range fs {
		if fs[i].Severity == finding.Error && slices.Contains(foreignConventions, fs[i].Rule) {
			fs[i].Severity = finding.Warning
			fs[i].Hint += " (A warning here: this repository has no " + config.FileName + " of its own; with one, it is an error.)"
		}
	}
	return fs
}

func (r *run) policyDir(opts Options) string {
	dir := opts.Policies
	if dir == "-" {
		return ""
	}
	if dir == "" {
		dir = r.cfg.Policies
	}
	if dir == "" {
		dir = "policies"
		if st, err := os.Stat(filepath.Join(r.root, dir)); err != nil || !st.IsDir() {
			return ""
		}
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(r.root, dir)
	}
	return dir
}

func schemaFindings(v *schema.Validator, o *render.Object) []finding.Finding {
	obj := o.U.Object
	if o.Encrypted {
		obj = withoutSOPS(obj)
	}
	var out []finding.Finding
	for _, is := range v.Validate(obj) {
		if o.Owner != nil && o.Owner.UnknownValues && holdsVariable(obj, is.Field, is.Composite) {
			// The value is a variable whose value is unknown offline
			// (render-variable-unknown): no verdict on its pattern.
			continue
		}
		rule, msg := finding.SchemaInvalid, fmt.Sprintf("%s: %s", o.ID(), is.Message)
		switch {
		case is.NoSchema:
			rule = finding.SchemaNoSchema
		case is.UnknownKind:
			rule = finding.SchemaUnknownKind
		case is.Dropped && normalized(o):
			rule = finding.SchemaFieldDropped
			msg += "; kustomize-controller drops it when it converts the object to its Kubernetes type before applying, so it has no effect"
		}
		f := finding.New(rule, o.File, 0, 0, o.FindingObject(), msg)
		if val, ok := fieldValue(obj, is.Field); rule == finding.SchemaFieldDropped && ok && val == nil {
			// A key without a value: dropping it loses nothing.
			f.Severity = finding.Warning
		}
		f.Field = is.Field
		f.Kustomization = o.Owner.Ref.String()
		out = append(out, f)
	}
	return out
}

// normalized reports whether kustomize-controller converts o to its Go
// type before applying it (ssa/normalize): every built-in kind but Role
// and ClusterRole, which it leaves alone. Objects of a Helm chart are
// applied by Helm, whose OpenAPI validation fails on an unknown field.
func normalized(o *render.Object) bool {
	if o.Chart != nil {
		return false
	}
	return o.U.GetAPIVersion() != "rbac.authorization.k8s.io/v1" || o.U.GetKind() != "Role" && o.U.GetKind() != "ClusterRole"
}

// committed reads a Secret's values as its file has them.
func (r *run) committed(o *render.Object) secretcheck.Committed {
	return func(field, key string) (string, bool) {
		pf, err := r.files.Get(o.File)
		if err != nil {
			return "", false
		}
		d := pf.Find(o.U.GetKind(), o.U.GetName())
		if d == nil {
			return "", false
		}
		return d.Scalar(field, key)
	}
}

// holdsVariable reports whether the string at the dotted field path of obj
// (list indexes as numbers) still references a variable, ${VAR}; with
// beneath, whether any string under the path does.
func holdsVariable(obj map[string]any, field string, beneath bool) bool {
	cur, ok := fieldValue(obj, field)
	if !ok {
		return false
	}
	if beneath {
		return render.AnyString(cur, false, func(s string) bool { return strings.Contains(s, "${") })
	}
	s, ok := cur.(string)
	return ok && strings.Contains(s, "${")
}

// fieldValue returns the value at the dotted field path of obj (list
// indexes as numbers); false when there is none.
func fieldValue(obj map[string]any, field string) (any, bool) {
	if field == "" {
		return nil, false
	}
	var cur any = obj
	for _, step := range strings.Split(field, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[step]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(step)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// withoutSOPS drops the sops metadata and replaces encrypted values by
// placeholders, giving the object as kustomize-controller would apply it
// (after decryption) for schema purposes.
func withoutSOPS(obj map[string]any) map[string]any {
	cp := make(map[string]any, len(obj))
	for k, v := range obj {
		if k == "sops" {
			continue
		}
		cp[k] = v
	}
	if data, ok := obj["data"].(map[string]any); ok && obj["kind"] == "Secret" {
		nd := make(map[string]any, len(data))
		for k, v := range data {
			if s, _ := v.(string); isEncrypted(s) {
				v = "c29wcy1wbGFjZWhvbGRlcg==" // base64("sops-placeholder")
			}
			nd[k] = v
		}
		cp["data"] = nd
	}
	return cp
}

// position fills in line and column for findings that name a file and an
// object but no line, from the object's document (and the field, if any).
func (r *run) position(fs []finding.Finding, clusters []*render.Cluster) {
	charts := map[chartKey]*render.Object{}
	for _, c := range clusters {
		for _, o := range c.Objects {
			if o.Chart != nil {
				charts[chartKey{o.File, o.FindingObject()}] = o
			}
		}
	}
	for i := range fs {
		f := &fs[i]
		if f.File == "" || f.Line != 0 || f.Object.IsZero() {
			continue
		}
		if o := charts[chartKey{f.File, f.Object}]; o != nil {
			// An object rendered from a chart: point at its HelmRelease.
			hr := o.Chart.Release
			if pf, err := r.files.Get(hr.File); err == nil {
				if d := pf.Find(hr.U.GetKind(), hr.U.GetName()); d != nil {
					f.Line, f.Column = d.Lookup("spec", "chart")
					if f.Line == 0 {
						f.Line, f.Column = d.Line(), 0
					}
				}
			}
			f.Message += fmt.Sprintf(" (rendered by HelmRelease %s from chart %s, template %s)", render.NamespacedName(hr.U.GetNamespace(), hr.U.GetName()), o.Chart.Chart, o.Chart.Template)
			continue
		}
		pf, err := r.files.Get(f.File)
		if err != nil {
			continue
		}
		d := pf.Find(f.Object.Kind, f.Object.Name)
		if d == nil {
			continue
		}
		var path []string
		if f.Field != "" {
			path = strings.Split(f.Field, ".")
		}
		f.Line, f.Column = d.Lookup(path...)
	}
}

// chartKey finds the chart object a finding is about.
type chartKey struct {
	file string
	obj  finding.Object
}
