package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/envconf"
	"github.com/homelab-gitops/homelab/src/internal/testenv/maintest"
	"github.com/homelab-gitops/homelab/src/internal/testenv/mongotest"
	"github.com/homelab-gitops/homelab/src/internal/testenv/rabbitmqtest"
)

var (
	broker *rabbitmqtest.Broker
	mongod *mongotest.Server
)

func TestMain(m *testing.M) {
	os.Exit(rabbitmqtest.Run(&broker, func() int { return mongotest.Main(m, &mongod) }))
}

type running struct {
	http, metrics string
	logs          *maintest.LogBuffer
	stop          func() error
}

func start(t *testing.T, env map[string]string, dev bool) *running {
	t.Helper()
	r := &running{http: maintest.FreeAddr(t), metrics: maintest.FreeAddr(t), logs: &maintest.LogBuffer{}}
	base := map[string]string{
		"HTTP_ADDR": r.http, "METRICS_ADDR": r.metrics, "AMQP_URL": broker.URL(),
		"MONGODB_URI": mongod.URI(), "MONGODB_DATABASE": mongod.Database(t),
	}
	for k, v := range env {
		base[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, r.logs, envconf.Map(base), dev, false) }()
	stopped := false
	r.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(40 * time.Second):
			return fmt.Errorf("run did not return 40 s after the signal")
		}
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + r.http + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return r
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run exited early: %v\n%s", err, r.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 30 s\n%s", r.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fetch(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(data)
}

func TestRunDevelopmentMode(t *testing.T) {
	r := start(t, map[string]string{"DEV_MODE_USER": "dev@localhost"}, true)
	base := "http://" + r.http
	if code, body := fetch(t, http.MethodGet, base+"/", ""); code != 200 || !strings.Contains(body, "DEVELOPMENT MODE") {
		t.Errorf("plan page: %d, banner shown: %v", code, strings.Contains(body, "DEVELOPMENT MODE"))
	}
	body := fmt.Sprintf(`{"exercise":"bench-press","performed_at":%q,"unit":"kg","sets":[{"reps":5,"weight":60}]}`,
		time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if code, out := fetch(t, http.MethodPost, base+"/api/v1/workouts", body); code != http.StatusAccepted {
		t.Errorf("post: %d %s", code, out)
	}
	code, metrics := fetch(t, http.MethodGet, "http://"+r.metrics+"/metrics", "")
	for _, want := range []string{`fitness_web_workouts_published_total{result="confirmed"} 1`, "fitness_web_publisher_ready 1", "go_goroutines", "process_cpu_seconds_total"} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if code, _ := fetch(t, http.MethodGet, base+"/metrics", ""); code != http.StatusNotFound {
		t.Errorf("metrics served on the app port: %d", code)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	logs := r.logs.String()
	for _, want := range []string{`"level":"WARN","msg":"!!! DEVELOPMENT MODE`, `"request_id":`, `shutting down: HTTP first`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestRunProductionNeedsAccess(t *testing.T) {
	r := start(t, map[string]string{
		"ACCESS_TEAM_DOMAIN": "homelab.cloudflareaccess.com", "ACCESS_AUD": "aud-tag", "LOG_LEVEL": "warn",
	}, false)
	base := "http://" + r.http
	if code, body := fetch(t, http.MethodGet, base+"/", ""); code != http.StatusUnauthorized || body != "unauthorized\n" {
		t.Errorf("no token: %d %q", code, body)
	}
	if code, _ := fetch(t, http.MethodGet, base+"/healthz", ""); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
	if strings.Contains(r.logs.String(), "DEVELOPMENT MODE") {
		t.Error("production run logged the development warning")
	}
}
