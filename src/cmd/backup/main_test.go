package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/homelab-gitops/homelab/src/internal/envconf"
	"github.com/homelab-gitops/homelab/src/internal/localmongo"
	"github.com/homelab-gitops/homelab/src/internal/store"
)

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "usage: backup <command>"},
		{[]string{"mongodump"}, `unknown command "mongodump"`},
		{[]string{"mongo-dump"}, "set exactly one of -out and -root"},
		{[]string{"mongo-dump", "-out", "a", "-root", "b"}, "set exactly one of -out and -root"},
		{[]string{"mongo-dump", "-out", "a", "-ship"}, "-ship needs -root"},
		{[]string{"mongo-dump", "-root", "a", "-keep-daily", "0"}, "-keep-daily must be at least 1"},
		{[]string{"mongo-restore"}, "-dir is required"},
		{[]string{"mongo-restore", "-dir", "d", "-mode", "upsert"}, `-mode "upsert": want drop or merge`},
		{[]string{"rabbitmq-definitions", "-out", "defs.json"}, "RABBITMQ_URL (or RABBITMQ_URL_FILE) is required"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := run(context.Background(), tt.args, envconf.Map(nil), slog.New(slog.DiscardHandler), io.Discard)
			var usage usageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
}

func startStore(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := localmongo.Start(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop store: %v", err)
		}
	})
	return s.URI()
}

// TestDumpShipRestore runs the CronJob's command line against an embedded
// store and a test bucket, then the runbook's restore into a fresh store.
func TestDumpShipRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srcURI := startStore(t)
	client, err := store.Connect(store.Config{URI: srcURI})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	var docs []any
	for i := range 25 {
		docs = append(docs, bson.D{{Key: "_id", Value: i}, {Key: "exercise", Value: "deadlift"}})
	}
	if _, err := client.Database("fitness").Collection("workouts").InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var keys []string
	bucket := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		keys = append(keys, r.Method+" "+r.URL.Path)
		mu.Unlock()
	}))
	defer bucket.Close()
	root := t.TempDir()
	env := envconf.Map(map[string]string{
		"MONGODB_URI": srcURI, "S3_ENDPOINT": bucket.URL, "S3_BUCKET": "backups",
		"S3_ACCESS_KEY_ID": "AKID", "S3_SECRET_ACCESS_KEY": "secret",
	})
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	if err := run(ctx, []string{"mongo-dump", "-root", root, "-ship", "-db", "fitness"}, env, logger, io.Discard); err != nil {
		t.Fatalf("mongo-dump: %v\n%s", err, logs.String())
	}
	runs, _ := filepath.Glob(filepath.Join(root, "20*Z"))
	if len(runs) != 1 {
		t.Fatalf("runs in the volume: %v, want one", runs)
	}
	if _, err := os.Stat(runs[0] + ".tar"); err != nil {
		t.Errorf("archive of the run: %v", err)
	}
	if len(keys) == 0 || !strings.HasPrefix(keys[0], "PUT /backups/mongodb/daily/"+filepath.Base(runs[0])+".tar") {
		t.Errorf("uploads %v, want PUT /backups/mongodb/daily/<run>.tar first", keys)
	}

	logs.Reset()
	dstURI := startStore(t)
	env = envconf.Map(map[string]string{"MONGODB_URI": dstURI})
	if err := run(ctx, []string{"mongo-restore", "-dir", runs[0]}, env, logger, io.Discard); err != nil {
		t.Fatalf("mongo-restore: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"restore complete"`) || !strings.Contains(logs.String(), `"documents":25`) {
		t.Errorf("restore log lacks the 25 documents:\n%s", logs.String())
	}

	// Without the bucket settings, -ship fails before it dumps, naming the
	// missing setting.
	env = envconf.Map(map[string]string{"MONGODB_URI": srcURI})
	err = run(ctx, []string{"mongo-dump", "-root", root, "-ship"}, env, logger, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "S3_ENDPOINT (or S3_ENDPOINT_FILE) is required with -ship") {
		t.Errorf("ship without settings: %v", err)
	}
	if after, _ := filepath.Glob(filepath.Join(root, "20*Z")); len(after) != 1 {
		t.Errorf("runs after a refused -ship: %v, want the first one only", after)
	}
}
