package policies

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// guardLine is the one shape a kind guard may take: OPA's rule index reads
// `input.kind == "X"` and `input.kind in {literal set}`, and skips the
// rule's body for every other kind.
var guardLine = regexp.MustCompile(`^\tinput\.kind (== "[A-Za-z]+"|in \{"[A-Za-z]+"(, "[A-Za-z]+")*\}) # guard$`)

var (
	kindLiteral   = regexp.MustCompile(`"([A-Z][a-z]+(?:[A-Z][a-z]+)*)"`)
	objectPackage = regexp.MustCompile(`(?m)^package homelab\.([a-z]+)$`)
)

// TestKindGuards checks that the `# guard` lines only save work: the pack
// with them and the pack without them give the same findings on every
// object of the repository and of the fixtures, each also relabelled as
// every kind the pack names. A guard that leaves out a kind
// its rule can fire on (a ReplicationController for a pod rule, say) fails
// here.
func TestKindGuards(t *testing.T) {
	ctx := context.Background()
	var guarded, unguarded []func(*rego.Rego)
	packages := map[string]bool{}
	kinds := map[string]bool{}
	guards := 0
	err := fs.WalkDir(pack, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		data, err := pack.ReadFile(p)
		if err != nil {
			return err
		}
		var kept []string
		for i, line := range strings.Split(string(data), "\n") {
			if !strings.HasSuffix(line, "# guard") {
				kept = append(kept, line)
				continue
			}
			if !guardLine.MatchString(line) {
				t.Errorf("%s:%d: a guard is `input.kind == \"Kind\" # guard` or `input.kind in {\"Kind\", ...} # guard`, got %q", p, i+1, line)
			}
			guards++
		}
		// Every kind the pack names: a rule can only tell these apart.
		for _, m := range kindLiteral.FindAllSubmatch(data, -1) {
			kinds[string(m[1])] = true
		}
		if m := objectPackage.FindSubmatch(data); m != nil && string(m[1]) != "lib" {
			packages[string(m[1])] = true
		}
		guarded = append(guarded, rego.Module(p, string(data)))
		unguarded = append(unguarded, rego.Module(p, strings.Join(kept, "\n")))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if guards == 0 {
		t.Fatal("the pack has no # guard lines")
	}
	// Every per-object package's deny and warn messages, by package.
	var names []string
	for p := range packages {
		names = append(names, fmt.Sprintf("%q", p))
	}
	slices.Sort(names)
	query := fmt.Sprintf(`out := [sprintf("%%s.%%s: %%s", [p, r, x.msg]) | some p in [%s]; some r in ["deny", "warn"]; some x in data.homelab[p][r]]`, strings.Join(names, ", "))
	prepare := func(modules []func(*rego.Rego)) rego.PreparedEvalQuery {
		pq, err := rego.New(append(modules, rego.Query(query), rego.SetRegoVersion(ast.RegoV1))...).PrepareForEval(ctx)
		if err != nil {
			t.Fatalf("compile the pack: %v", err)
		}
		return pq
	}
	with, without := prepare(guarded), prepare(unguarded)

	var objs []map[string]any
	for _, dir := range []string{"testdata", "../infrastructure", "../apps", "../clusters"} {
		objs = append(objs, yamlObjects(t, dir)...)
	}
	kinds["ConfigMap"] = true // one the pack does not name
	if len(objs) < 50 {
		t.Fatalf("only %d objects to compare on", len(objs))
	}
	sorted := slices.Sorted(maps.Keys(kinds))
	fired := 0
	for _, o := range objs {
		for _, kind := range sorted {
			// A shallow copy: the engine does not change its input.
			in := maps.Clone(o)
			in["kind"] = kind
			got := results(t, with, in)
			want := results(t, without, in)
			if !slices.Equal(got, want) {
				t.Errorf("%s %v relabelled %s: with guards %q, without %q", o["kind"], name(o), kind, got, want)
			}
			fired += len(want)
		}
	}
	if fired == 0 {
		t.Fatal("no rule fired on any object: the comparison shows nothing")
	}
	t.Logf("%d guards, %d objects x %d kinds, %d findings compared", guards, len(objs), len(sorted), fired)
}

func results(t *testing.T, pq rego.PreparedEvalQuery, obj map[string]any) []string {
	t.Helper()
	rs, err := pq.Eval(context.Background(), rego.EvalInput(obj))
	if err != nil || len(rs) != 1 {
		t.Fatalf("evaluate: %v (%d results)", err, len(rs))
	}
	var out []string
	for _, m := range rs[0].Bindings["out"].([]any) {
		out = append(out, m.(string))
	}
	slices.Sort(out)
	return out
}

func name(obj map[string]any) any {
	md, _ := obj["metadata"].(map[string]any)
	return md["name"]
}

// yamlObjects reads every object of the YAML files under dir.
func yamlObjects(t *testing.T, dir string) []map[string]any {
	t.Helper()
	var out []map[string]any
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return fmt.Errorf("%s: %w", p, err)
			}
			if _, ok := obj["kind"].(string); ok {
				out = append(out, obj)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
