package amqpconn

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNodeGauge(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := NewNodeGauge(reg, "test_broker_connected", "Connected node.")
	g.Set("10.0.0.1:5672")
	g.Set("10.0.0.2:5672")
	want := `
# HELP test_broker_connected Connected node.
# TYPE test_broker_connected gauge
test_broker_connected{address="10.0.0.2:5672"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "test_broker_connected"); err != nil {
		t.Fatal(err)
	}
	g.Clear()
	if n := testutil.CollectAndCount(reg, "test_broker_connected"); n != 0 || g.Current() != "" {
		t.Fatalf("after Clear: %d series, current %q", n, g.Current())
	}
}
