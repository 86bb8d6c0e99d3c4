package validate

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// TestKindTallyDeterministic: the object that represents an aggregated
// no-schema warning does not depend on the order the parallel checks
// report objects in.
func TestKindTallyDeterministic(t *testing.T) {
	var objs []*render.Object
	for _, name := range []string{"b", "a", "c"} {
		for _, file := range []string{"apps/y.yaml", "apps/x.yaml"} {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion("example.com/v1")
			u.SetKind("Widget")
			u.SetNamespace("default")
			u.SetName(name)
			objs = append(objs, &render.Object{U: u, File: file})
		}
	}
	tally := func(order []*render.Object) []finding.Finding {
		var k kindTally
		for _, o := range order {
			k.add("home", o, finding.New(finding.SchemaNoSchema, o.File, 0, 0, o.FindingObject(), "no schema for "+o.U.GetName()))
		}
		return k.findings()
	}
	want := tally(objs)
	if len(want) != 1 || want[0].File != "apps/x.yaml" || want[0].Object.Name != "a" {
		t.Fatalf("representative %+v, want Widget/default/a of apps/x.yaml", want)
	}
	reversed := slices.Clone(objs)
	slices.Reverse(reversed)
	if got := tally(reversed); !slices.Equal(got, want) {
		t.Errorf("in another order: %+v, want %+v", got, want)
	}
}
