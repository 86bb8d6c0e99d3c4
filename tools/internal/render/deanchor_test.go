package render

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestDeAnchorSkip checks the kustomize patch that de-anchors only the
// documents DeAnchor can change (third_party/README.md): the resource
// factory must read every document into the same tree as kio.FromBytes,
// on the cases that need de-anchoring and on every YAML file of this
// repository.
func TestDeAnchorSkip(t *testing.T) {
	cases := map[string]string{
		"anchor and alias":         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: &l\n    app: x\n  annotations: *l\n",
		"merge key":                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: &d\n  a: \"1\"\nx:\n  <<: *d\n  b: \"2\"\n",
		"merge list":               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ny: &y {c: \"3\"}\nd: &d\n  a: \"1\"\nx:\n  <<: [*d, *y]\n  a: \"2\"\n",
		"duplicate key":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  a: \"1\"\n  b: \"2\"\n  a: \"3\"\n",
		"duplicate key among many": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n" + manyKeys(40) + "  k7: dup\n",
		"complex key":              "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  ? [a, b]\n  : c\n",
		"comments and styles":      "# head\napiVersion: v1 # line\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  a: 'q'\n  b: \"w\"\n  c: |\n    x\n    y\n  d: [1, 2]\n  e: {f: g}\n",
		"list":                     "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: &m\n    name: a\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: b\n    labels: *m\n",
		"several documents":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  labels: &l {x: y}\n  annotations: *l\n",
		"alias of a scalar":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: &n a\ndata:\n  n: *n\n",
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".cache" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		cases[rel] = string(data)
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("found %d YAML files in %s, want the repository's", files, root)
	}
	rf := provider.NewDefaultDepProvider().GetResourceFactory()
	compared := 0
	for name, text := range cases {
		got, err := rf.RNodesFromBytes([]byte(text))
		if err != nil {
			// Not a Kubernetes object (kustomize's own checks): the same
			// error either way, since the check comes after reading.
			continue
		}
		// What kustomize reads without the patch: every document
		// de-anchored by kio, written out and read again (the second
		// reading has nothing left to de-anchor).
		nodes, err := kio.FromBytes([]byte(text))
		if err != nil {
			t.Fatalf("%s: the factory reads it, kio.FromBytes fails: %v", name, err)
		}
		deanchored, err := kio.StringAll(nodes)
		if err != nil {
			t.Fatal(err)
		}
		want, err := rf.RNodesFromBytes([]byte(deanchored))
		if err != nil {
			t.Fatalf("%s: de-anchored by kio: %v", name, err)
		}
		if g, w := texts(got), texts(want); g != w {
			t.Errorf("%s: the factory reads\n%s\nkio reads\n%s", name, g, w)
		}
		compared++
	}
	if compared < 100 {
		t.Fatalf("compared %d inputs", compared)
	}
	t.Logf("%d inputs compared", compared)
}

func texts(nodes []*yaml.RNode) string {
	var b strings.Builder
	for _, n := range nodes {
		b.WriteString(n.MustString())
		b.WriteString("---\n")
	}
	return b.String()
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  k%d: v\n", i)
	}
	return b.String()
}
