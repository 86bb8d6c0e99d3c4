package main

import (
	"errors"
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
	var c config
	var errs []error
	str := func(dst *string, name, def string) {
		v, err := env.String(name, def)
		errs = append(errs, err)
		*dst = v
	}
	str(&c.AMQP.URL, "AMQP_URL", "amqp://guest:guest@rabbitmq:5672/")
	str(&c.AMQP.CAFile, "AMQP_CA_FILE", "")
	str(&c.AMQP.CertFile, "AMQP_CERT_FILE", "")
	str(&c.AMQP.KeyFile, "AMQP_KEY_FILE", "")
	str(&c.Mongo.URI, "MONGODB_URI", "")
	str(&c.Mongo.TLSCAFile, "MONGODB_TLS_CA_FILE", "")
	str(&c.Mongo.TLSCertKeyFile, "MONGODB_TLS_CERT_KEY_FILE", "")
	str(&c.Database, "MONGODB_DATABASE", "fitness")
	str(&c.MetricsAddr, "METRICS_ADDR", ":9091")
	str(&c.LogLevel, "LOG_LEVEL", "info")
	var err error
	c.Prefetch, err = env.Int("PREFETCH", 0)
	errs = append(errs, err)
	c.BatchSize, err = env.Int("BATCH_SIZE", 0)
	errs = append(errs, err)
	c.BatchWait, err = env.Duration("BATCH_WAIT", 0)
	errs = append(errs, err)
	if c.Mongo.URI == "" {
		errs = append(errs, errors.New("MONGODB_URI (or MONGODB_URI_FILE) is required"))
	}
	c.Mongo.AppName = "fitness-consumer"
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	return c, nil
}
