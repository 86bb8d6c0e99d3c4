package policies_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/homelab-gitops/homelab/policies"
)

const goodRule = `package homelab.flux

# METADATA
# title: Kustomizations prune
# custom:
#   id: flux-prune
#   severity: error
#   rationale: Deleted objects must go.
#   remediation: Set spec.prune true.
deny contains result if {
	input.spec.prune == false
	result := {"msg": "no prune", "rule": "flux-prune"}
}
`

func TestCatalog(t *testing.T) {
	rules, err := policies.Catalog(fstest.MapFS{
		"flux/flux.rego":      {Data: []byte(goodRule)},
		"flux/flux_test.rego": {Data: []byte("package homelab.flux_test\n\ntest_x if true\n")},
		"testdata/x.rego":     {Data: []byte("not rego at all")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []policies.Rule{{
		ID: "flux-prune", Title: "Kustomizations prune", Severity: "error", Package: "homelab.flux",
		File: "flux/flux.rego", Line: 10, Rationale: "Deleted objects must go.", Remediation: "Set spec.prune true.",
	}}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("catalog (-want +got):\n%s", diff)
	}
}

func TestCatalogErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name:  "no metadata",
			files: map[string]string{"a.rego": "package homelab.flux\n\ndeny contains \"x\" if true\n"},
			want:  "deny rule has no METADATA block",
		},
		{
			name:  "missing fields",
			files: map[string]string{"a.rego": strings.Replace(goodRule, "#   rationale: Deleted objects must go.\n", "", 1)},
			want:  "METADATA lacks custom.rationale",
		},
		{
			name:  "bad id",
			files: map[string]string{"a.rego": strings.Replace(goodRule, "id: flux-prune", "id: Flux_Prune", 1)},
			want:  `rule id "Flux_Prune" is not lowercase kebab`,
		},
		{
			name:  "id outside its area",
			files: map[string]string{"a.rego": strings.Replace(goodRule, "id: flux-prune", "id: security-prune", 1)},
			want:  `does not start with its area "flux-"`,
		},
		{
			name:  "severity of a deny rule",
			files: map[string]string{"a.rego": strings.Replace(goodRule, "severity: error", "severity: warning", 1)},
			want:  `METADATA says severity "warning" (want "error")`,
		},
		{
			name:  "duplicate id",
			files: map[string]string{"a.rego": goodRule, "b/b.rego": goodRule},
			want:  "rule id flux-prune is already used at a.rego:10",
		},
		{
			name:  "no rego",
			files: map[string]string{"README.md": "# nothing"},
			want:  "no .rego files found",
		},
		{
			name:  "parse error",
			files: map[string]string{"a.rego": "package homelab.flux\n\ndeny contains if {"},
			want:  "parse a.rego",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, src := range tt.files {
				fsys[name] = &fstest.MapFile{Data: []byte(src)}
			}
			_, err := policies.Catalog(fsys)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Catalog() error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestReplaceTable(t *testing.T) {
	readme := []byte("# Pack\n\n" + policies.TableBegin + "\nold table\n" + policies.TableEnd + "\nfooter\n")
	got, err := policies.ReplaceTable(readme, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Pack\n\n" + policies.TableBegin + "\nnew table\n" + policies.TableEnd + "\nfooter\n"
	if string(got) != want {
		t.Errorf("ReplaceTable() = %q, want %q", got, want)
	}
	if _, err := policies.ReplaceTable([]byte("no markers"), "x"); err == nil {
		t.Error("ReplaceTable() without markers: want an error")
	}
}

func TestRenderTableEscapesCells(t *testing.T) {
	table := policies.RenderTable([]policies.Rule{{
		ID: "network-x", Severity: "error", Package: "homelab.combined.network",
		Title: "a | b", Rationale: "line one\n  line two", Remediation: "set <name>",
	}})
	want := "| `network-x` | error | cluster (`homelab.combined.network`) | a \\| b | line one line two | set &lt;name&gt; |\n"
	if !strings.HasSuffix(table, want) {
		t.Errorf("RenderTable() =\n%s\nwant last row\n%s", table, want)
	}
}
