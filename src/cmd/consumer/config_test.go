package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/envconf"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	uriFile := filepath.Join(dir, "uri")
	if err := os.WriteFile(uriFile, []byte("mongodb://db:27017/?replicaSet=rs0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(envconf.Map(map[string]string{
		"MONGODB_URI_FILE": uriFile,
		"AMQP_URL":         "amqps://u:p@rabbitmq:5671/",
		"AMQP_CA_FILE":     "/tls/ca.crt",
		"PREFETCH":         "400",
		"BATCH_WAIT":       "10ms",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mongo.URI != "mongodb://db:27017/?replicaSet=rs0" || cfg.Database != "fitness" || cfg.MetricsAddr != ":9091" {
		t.Errorf("config %+v", cfg)
	}
	if cfg.AMQP.URL != "amqps://u:p@rabbitmq:5671/" || cfg.AMQP.CAFile != "/tls/ca.crt" || cfg.Prefetch != 400 || cfg.BatchWait != 10*time.Millisecond {
		t.Errorf("config %+v", cfg)
	}

	defaults, err := loadConfig(envconf.Map(map[string]string{"MONGODB_URI": "mongodb://x/"}))
	if err != nil {
		t.Fatal(err)
	}
	if defaults.AMQP.URL != "amqp://guest:guest@rabbitmq:5672/" {
		t.Errorf("default broker %q, want the rabbitmq service", defaults.AMQP.URL)
	}

	if _, err := loadConfig(envconf.Map(map[string]string{"PREFETCH": "lots"})); err == nil {
		t.Error("accepted a config without MONGODB_URI and with a bad PREFETCH")
	}
}
