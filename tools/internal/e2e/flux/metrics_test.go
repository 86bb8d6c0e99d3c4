package flux

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// What source-controller's /metrics shows for two GitRepositories
// (trimmed to the buckets that matter).
const sourceMetrics = `# HELP gotk_reconcile_duration_seconds The duration in seconds of a GitOps Toolkit resource reconciliation.
# TYPE gotk_reconcile_duration_seconds histogram
gotk_reconcile_duration_seconds_bucket{kind="GitRepository",name="flux-system",namespace="flux-system",le="1"} 6
gotk_reconcile_duration_seconds_bucket{kind="GitRepository",name="flux-system",namespace="flux-system",le="+Inf"} 7
gotk_reconcile_duration_seconds_sum{kind="GitRepository",name="flux-system",namespace="flux-system"} 2.5
gotk_reconcile_duration_seconds_count{kind="GitRepository",name="flux-system",namespace="flux-system"} 7
gotk_reconcile_duration_seconds_bucket{kind="GitRepository",name="gateway-api",namespace="flux-system",le="+Inf"} 3
gotk_reconcile_duration_seconds_sum{kind="GitRepository",name="gateway-api",namespace="flux-system"} 0.3
gotk_reconcile_duration_seconds_count{kind="GitRepository",name="gateway-api",namespace="flux-system"} 3
`

func TestReconcileCount(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, sourceMetrics)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name string
		want uint64
	}{{"flux-system", 7}, {"gateway-api", 3}, {"absent", 0}} {
		got, err := ReconcileCount(context.Background(), srv.URL, "GitRepository", "flux-system", tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: %d reconciliations, want %d", tc.name, got, tc.want)
		}
	}
	if _, err := ReconcileCount(context.Background(), srv.URL+"/nope\x7f", "GitRepository", "flux-system", "flux-system"); err == nil {
		t.Error("a bad URL gave no error")
	}
}
