package report

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestReport(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf)
	r.Pass("cluster up", "3 nodes", 1500*time.Millisecond)
	r.Check("prune", "ConfigMap deleted", 0, nil)
	r.Check("broken commit", "", 0, errors.New("still Ready"))
	r.Note("chart %s not fetchable", "traefik")
	r.Summary(90 * time.Second)

	if r.Failed() != 1 {
		t.Errorf("Failed() = %d, want 1", r.Failed())
	}
	out := buf.String()
	for _, want := range []string{
		"PASS cluster up (1.5s): 3 nodes\n",
		"PASS prune: ConfigMap deleted\n",
		"FAIL broken commit: still Ready\n",
		"NOTE chart traefik not fetchable\n",
		"e2e run time: 1m30s\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The closing line is the plain "N passed, N failed" that CI reads.
	if !strings.HasSuffix(out, "\n2 passed, 1 failed\n") {
		t.Errorf("output does not end with the totals line:\n%s", out)
	}
}
