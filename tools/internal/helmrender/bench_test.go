package helmrender

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkRender renders the validate fixture's chart (Deployment,
// Service, CRD and custom resource) for one HelmRelease: the cost each
// release adds to a run once its chart is loaded.
func BenchmarkRender(b *testing.B) {
	chart, err := filepath.Abs(filepath.Join("..", "validate", "testdata", "cases", "helm-chart", "charts", "hello"))
	if err != nil {
		b.Fatal(err)
	}
	r := New(nil, nil, nil, nil)
	hr := repoObject(b, `{apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, metadata: {name: hello, namespace: web}, spec: {values: {replicas: 2}}}`)
	rel := Release{HR: hr, Location: Location{Path: chart, Describe: "bench"}, Sources: fakeSources{}}
	if res := r.Render(context.Background(), rel); len(res.Objects) == 0 || len(res.Findings) > 0 {
		b.Fatalf("render: %d objects, findings %v", len(res.Objects), res.Findings)
	}
	b.ResetTimer()
	for b.Loop() {
		r.Render(context.Background(), rel)
	}
}
