package manifest

import (
	"strings"
	"sync"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		docs      int
		rule      string
		line, col int
		message   string
	}{
		{name: "two documents", data: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n", docs: 2},
		{name: "syntax error has line and column", data: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n   labels: {}\n", rule: finding.ParseSyntax, line: 5, col: 10, message: "mapping values are not allowed"},
		// go-yaml names the enclosing mapping or sequence; the finding
		// points at the line that breaks it.
		{name: "stray indentation in a mapping", data: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n   b: 2\n", rule: finding.ParseSyntax, line: 7, col: 4, message: "did not find expected key"},
		{name: "key outdented", data: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n b: 2\n", rule: finding.ParseSyntax, line: 7, col: 2, message: "did not find expected key"},
		{name: "list item outdented", data: "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          image: x\n         ports: []\n", rule: finding.ParseSyntax, line: 9, col: 10, message: "did not find expected '-' indicator"},
		{name: "sequence item in a mapping", data: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    a: b\n  - c\n", rule: finding.ParseSyntax, line: 7, col: 3, message: "did not find expected key"},
		{name: "unclosed flow sequence", data: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [1, 2\n  b: 3\n", rule: finding.ParseSyntax, line: 6, col: 3, message: "did not find expected ',' or ']'"},
		{name: "flow sequence over two lines, error below", data: "a:\n  b: [1,\n    2]\n  c: 1\n d: 2\n", rule: finding.ParseSyntax, line: 5, col: 2, message: "did not find expected key"},
		{name: "duplicate key", data: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"1\"\n  x: \"2\"\n", docs: 1, rule: finding.ParseDuplicateKey, line: 7, col: 3, message: `duplicate key "x" in .data (first at line 6)`},
		{name: "merge keys are not duplicates", data: "base: &b {a: 1}\nx:\n  <<: *b\n  c: 2\n", docs: 1},
		// go-yaml gives no position for an alias without its anchor.
		{name: "unknown anchor", data: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: &n x\n  namespace: *ns\ndata:\n  a: *n\n", rule: finding.ParseSyntax, line: 5, col: 3, message: "unknown anchor 'ns' referenced"},
		{name: "unknown anchor in a second document", data: "a: 1\n---\nb: &x 2\nc:\n  - *x\n  - *y\n", rule: finding.ParseSyntax, line: 6, col: 3, message: "unknown anchor 'y' referenced"},
		{name: "anchors and custom tags are YAML", data: "a: &x 1\nb: *x\nc: !custom tag\n", docs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Parse("f.yaml", []byte(tt.data))
			if tt.docs != 0 && len(f.Docs) != tt.docs {
				t.Errorf("got %d documents, want %d", len(f.Docs), tt.docs)
			}
			if tt.rule == "" {
				if len(f.Findings) != 0 {
					t.Fatalf("unexpected findings: %+v", f.Findings)
				}
				return
			}
			if len(f.Findings) != 1 {
				t.Fatalf("got %d findings, want 1: %+v", len(f.Findings), f.Findings)
			}
			got := f.Findings[0]
			if got.Rule != tt.rule || got.Line != tt.line || got.Column != tt.col || !strings.Contains(got.Message, tt.message) {
				t.Errorf("got %s %d:%d %q, want %s %d:%d containing %q", got.Rule, got.Line, got.Column, got.Message, tt.rule, tt.line, tt.col, tt.message)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	f := Parse("d.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx
`))
	d := f.Find("Deployment", "prefix-web-suffix")
	if d == nil {
		t.Fatal("document not found by contained name")
	}
	tests := []struct {
		path      string
		line, col int
	}{
		{"", 1, 1},
		{"spec.template.spec.containers.0.image", 10, 11},
		{"spec.template.spec.containers.0.missing", 9, 11},
		{"metadata.name", 4, 3},
	}
	for _, tt := range tests {
		var p []string
		if tt.path != "" {
			p = strings.Split(tt.path, ".")
		}
		line, col := d.Lookup(p...)
		if line != tt.line || col != tt.col {
			t.Errorf("Lookup(%s) = %d:%d, want %d:%d", tt.path, line, col, tt.line, tt.col)
		}
	}
}

// TestCacheKeepsText checks that a cached file keeps its text, not its
// trees, and answers Line, Lookup and Scalar as the parsed file does, from
// several goroutines at once, each document from its own tree.
func TestCacheKeepsText(t *testing.T) {
	data := []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  key: one\n---\n# second\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\nstringData:\n  key: two\n  other: three\n")
	reads := 0
	c := NewCache(func(string) ([]byte, error) { reads++; return data, nil })
	cached, err := c.Get("s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	parsed := Parse("s.yaml", data)
	if len(cached.Docs) != 2 {
		t.Fatalf("got %d documents, want 2", len(cached.Docs))
	}
	for _, d := range cached.Docs {
		if d.Root != nil {
			t.Errorf("document %d of a cached file keeps its tree", d.Index)
		}
	}
	// A document's own position needs no tree.
	for i, d := range cached.Docs {
		gl, gc := d.Lookup()
		wl, wc := parsed.Docs[i].Lookup()
		if gl != wl || gc != wc {
			t.Errorf("document %d: Lookup() = %d:%d, want %d:%d", i, gl, gc, wl, wc)
		}
	}
	if cached.roots != nil {
		t.Error("Lookup() of a document parsed the file again")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i, d := range cached.Docs {
				want := parsed.Docs[i]
				if d.Line() != want.Line() {
					t.Errorf("document %d: Line() = %d, want %d", i, d.Line(), want.Line())
				}
				for _, path := range [][]string{{"stringData", "key"}, {"stringData", "other"}, {"metadata"}} {
					gl, gc := d.Lookup(path...)
					wl, wc := want.Lookup(path...)
					gs, gok := d.Scalar(path...)
					ws, wok := want.Scalar(path...)
					if gl != wl || gc != wc || gs != ws || gok != wok {
						t.Errorf("document %d %v: %d:%d %q %v, want %d:%d %q %v", i, path, gl, gc, gs, gok, wl, wc, ws, wok)
					}
				}
			}
		})
	}
	wg.Wait()
	if _, err := c.Get("s.yaml"); err != nil || reads != 1 {
		t.Errorf("file read %d times, want once (%v)", reads, err)
	}
}
