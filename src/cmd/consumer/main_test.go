package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/envconf"
	"github.com/homelab-gitops/homelab/src/internal/publish"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/maintest"
	"github.com/homelab-gitops/homelab/src/internal/testenv/mongotest"
	"github.com/homelab-gitops/homelab/src/internal/testenv/rabbitmqtest"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

var (
	broker *rabbitmqtest.Broker
	mongod *mongotest.Server
)

func TestMain(m *testing.M) {
	os.Exit(rabbitmqtest.Run(&broker, func() int { return mongotest.Main(m, &mongod) }))
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestRunConsumesServesMetricsAndStopsCleanly runs the command's run as
// main does, persists a published workout through it, reads its health and
// metrics, and shuts it down as SIGTERM would.
func TestRunConsumesServesMetricsAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	uriFile := dir + "/mongodb-uri"
	if err := os.WriteFile(uriFile, []byte(mongod.URI()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dbName := mongod.Database(t)
	metrics := maintest.FreeAddr(t)
	env := envconf.Map(map[string]string{
		"AMQP_URL":         broker.URL(),
		"MONGODB_URI_FILE": uriFile,
		"MONGODB_DATABASE": dbName,
		"METRICS_ADDR":     metrics,
		"BATCH_WAIT":       "5ms",
	})
	logs := &maintest.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, env, logs) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := get(t, "http://"+metrics+"/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 30 s; logs:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := get(t, "http://"+metrics+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}

	p := publish.New(publish.Config{Dial: amqpconn.Config{URL: broker.URL()}})
	defer p.Close(context.Background())
	for !p.Ready() {
		time.Sleep(20 * time.Millisecond)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	w := workout.Workout{ID: uuid.NewString(), UserID: "gus@example.com", Exercise: "overhead-press",
		PerformedAt: now.Add(-time.Hour), Unit: workout.Pounds, Sets: []workout.Set{{Reps: 5, Weight: 95}}, LoggedAt: now}
	pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer pcancel()
	if err := p.Publish(pctx, w); err != nil {
		t.Fatal(err)
	}

	client, err := store.Connect(store.Config{URI: mongod.URI()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	coll := client.Database(dbName).Collection(store.Collection)
	deadline = time.Now().Add(30 * time.Second)
	for {
		n, err := coll.CountDocuments(context.Background(), bson.D{{Key: "_id", Value: w.ID}})
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workout not persisted after 30 s; logs:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, body := get(t, "http://"+metrics+"/metrics")
	for _, want := range []string{"fitness_consumer_written_total 1", "fitness_consumer_connected 1", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after shutdown", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30 s of the shutdown")
	}
	if code, _ := get(t, "http://"+metrics+"/healthz"); code != 0 {
		t.Errorf("metrics server still answers after shutdown (%d)", code)
	}
	if !strings.Contains(logs.String(), `"msg":"consuming"`) {
		t.Errorf("logs are not JSON lines from slog:\n%s", logs)
	}
}
