package consumer

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
)

func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	c, err := New(Config{Dial: amqpconn.Config{URL: "amqp://localhost/"}, Store: nopStore{}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	m.Written.Add(3)
	srv := httptest.NewServer(Handler(c, reg))
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d before consuming, want 503", code)
	}
	c.consuming.Store(true)
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d while consuming, want 200", code)
	}
	code, body := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		"fitness_consumer_written_total 3",
		"fitness_consumer_consumed_total 0",
		"fitness_consumer_duplicates_total 0",
		`fitness_consumer_dead_lettered_total{reason="invalid"} 0`,
		"fitness_consumer_paused 0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
