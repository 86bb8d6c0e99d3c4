package render

import (
	"reflect"
	"testing"

	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resource"
)

// TestResourceOrigin checks that resourceOrigin reads what GetOrigin reads
// from the annotations kustomize writes (Origin.String) for paths of every
// tricky form, and from annotations it would not write.
func TestResourceOrigin(t *testing.T) {
	var annotations []string
	for _, p := range append([]string{"apps/web/deployment.yaml", "a.yaml", "../base/x.yml", "team-000/app.yaml"}, tricky...) {
		for _, o := range []resource.Origin{{Path: p}, {Path: p, Repo: "https://example.com/r", Ref: "v1"}, {ConfiguredIn: p}} {
			s, err := o.String()
			if err != nil {
				t.Fatal(err)
			}
			annotations = append(annotations, s)
		}
	}
	annotations = append(annotations, "path: 123\n", "path: a: b\n", "path: a #b\n", "path: \n", "path: x", "path: x\npath: y\n", "path: [a]\n", "path: 'x'\n")
	factory := provider.NewDefaultDepProvider().GetResourceFactory()
	for _, a := range annotations {
		rs, err := factory.FromMap(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x", "annotations": map[string]any{originAnnotation: a}}})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := rs.GetOrigin()
		if got := resourceOrigin(rs); !reflect.DeepEqual(got, want) {
			t.Errorf("annotation %q: resourceOrigin = %#v, GetOrigin = %#v", a, got, want)
		}
	}
	if len(annotations) < 100 {
		t.Errorf("compared %d annotations", len(annotations))
	}
}
