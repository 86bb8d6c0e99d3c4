package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/homelab-gitops/homelab/internal/tlstest"
	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/envconf"
	"github.com/homelab-gitops/homelab/src/internal/publish"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/maintest"
	"github.com/homelab-gitops/homelab/src/internal/testenv/mongotest"
	"github.com/homelab-gitops/homelab/src/internal/testenv/rabbitmqtest"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// TestRunOverTLSFromFileSettings configures the command as a Kubernetes
// Secret mount would: the URLs from *_FILE, the CA, client certificates and
// keys as files, against a broker that accepts amqps only with a client
// certificate and a database that requires mutual TLS. A workout published
// over amqps lands in the database; then, with a CA file that does not trust
// the database, writes fail and the log names the file.
func TestRunOverTLSFromFileSettings(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlstest.NewCA("consumer test CA")
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ca.WriteFiles(filepath.Join(dir, "certs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b, stopBroker, err := rabbitmqtest.StartTLS(ctx, certs.Dir)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(stopBroker)
	db, stopMongo, err := mongotest.StartTLS(ctx, mongotest.TLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, CAFile: certs.CA})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopMongo)

	secret := func(name, value string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	dbName := db.Database(t)
	settings := map[string]string{
		"AMQP_URL_FILE":             secret("amqp-url", b.TLSURL()),
		"AMQP_CA_FILE":              certs.CA,
		"AMQP_CERT_FILE":            certs.ClientCert,
		"AMQP_KEY_FILE":             certs.ClientKey,
		"MONGODB_URI_FILE":          secret("mongodb-uri", db.URI()),
		"MONGODB_TLS_CA_FILE":       certs.CA,
		"MONGODB_TLS_CERT_KEY_FILE": certs.ClientCertKey,
		"MONGODB_DATABASE":          dbName,
		"BATCH_WAIT":                "5ms",
	}
	p := publish.New(publish.Config{Dial: amqpconn.Config{URL: b.TLSURL(), CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}})
	defer p.Close(context.Background())

	// start runs the command with settings and waits until it consumes.
	start := func(t *testing.T, settings map[string]string) (*maintest.LogBuffer, func()) {
		t.Helper()
		metrics := maintest.FreeAddr(t)
		settings["METRICS_ADDR"] = metrics
		logs := &maintest.LogBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, envconf.Map(settings), logs) }()
		stop := func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run returned %v after shutdown", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("run did not return within 30 s of the shutdown")
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if code, _ := get(t, "http://"+metrics+"/readyz"); code == http.StatusOK {
				return logs, stop
			}
			if time.Now().After(deadline) {
				stop()
				t.Fatalf("not ready over amqps after 30 s; logs:\n%s", logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	publishOne := func(t *testing.T) workout.Workout {
		t.Helper()
		now := time.Now().UTC().Truncate(time.Millisecond)
		w := workout.Workout{ID: uuid.NewString(), UserID: "tls@example.com", Exercise: "deadlift",
			PerformedAt: now.Add(-time.Hour), Unit: workout.Kilograms, Sets: []workout.Set{{Reps: 3, Weight: 180}}, LoggedAt: now}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for !p.Ready() && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		if err := p.Publish(ctx, w); err != nil {
			t.Fatal(err)
		}
		return w
	}

	t.Run("persists over tls", func(t *testing.T) {
		logs, stop := start(t, settings)
		defer stop()
		w := publishOne(t)
		client, err := store.Connect(store.Config{URI: db.URI(), TLSCAFile: certs.CA, TLSCertKeyFile: certs.ClientCertKey})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Disconnect(context.Background())
		coll := client.Database(dbName).Collection(store.Collection)
		deadline := time.Now().Add(30 * time.Second)
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
	})

	t.Run("database not trusted", func(t *testing.T) {
		other, err := tlstest.NewCA("another CA")
		if err != nil {
			t.Fatal(err)
		}
		otherFiles, err := other.WriteFiles(filepath.Join(dir, "other"))
		if err != nil {
			t.Fatal(err)
		}
		wrong := make(map[string]string, len(settings))
		for k, v := range settings {
			wrong[k] = v
		}
		wrong["MONGODB_TLS_CA_FILE"] = otherFiles.CA
		logs, stop := start(t, wrong)
		defer stop()
		publishOne(t)
		want := "not trusted by the ca file " + otherFiles.CA + " (MONGODB_TLS_CA_FILE)"
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(logs.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("logs do not say %q after 30 s:\n%s", want, logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
