package main

import (
	"time"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/envconf"
	"github.com/homelab-gitops/homelab/src/internal/store"
)

// config is the consumer's settings, from the environment (every one also
// readable from a file through its _FILE variant).
type config struct {
	AMQP        amqpconn.Config
	Mongo       store.Config
	Database    string
	MetricsAddr string
	Prefetch    int
	BatchSize   int
	BatchWait   time.Duration
	LogLevel    string
}

func loadConfig(env envconf.Env) (config, error) {
	s := env.Settings()
	c := config{
		AMQP:        amqpconn.ConfigFromEnv(s, ""),
		Mongo:       store.ConfigFromEnv(s, "fitness-consumer"),
		Database:    s.String("MONGODB_DATABASE", "fitness"),
		MetricsAddr: s.String("METRICS_ADDR", ":9091"),
		LogLevel:    s.String("LOG_LEVEL", "info"),
		Prefetch:    s.Int("PREFETCH", 0),
		BatchSize:   s.Int("BATCH_SIZE", 0),
		BatchWait:   s.Duration("BATCH_WAIT", 0),
	}
	if err := s.Err(); err != nil {
		return config{}, err
	}
	return c, nil
}
