package main

import (
	"errors"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/envconf"
	"github.com/homelab-gitops/homelab/src/internal/store"
)

// config is the web app's settings, from the environment; every one can
// instead be read from a file through its _FILE variant (AMQP_URL_FILE).
type config struct {
	HTTPAddr    string
	MetricsAddr string
	AMQP        amqpconn.Config
	Mongo       store.Config
	Database    string
	AccessTeam  string
	AccessAud   string
	DevUser     string
	LogLevel    string
}

func loadConfig(env envconf.Env, dev bool) (config, error) {
	var c config
	var errs []error
	str := func(dst *string, name, def string) {
		v, err := env.String(name, def)
		errs = append(errs, err)
		*dst = v
	}
	str(&c.HTTPAddr, "HTTP_ADDR", ":8080")
	str(&c.MetricsAddr, "METRICS_ADDR", ":9090")
	str(&c.AMQP.URL, "AMQP_URL", "amqp://guest:guest@rabbitmq:5672/")
	str(&c.AMQP.CAFile, "AMQP_CA_FILE", "")
	str(&c.AMQP.CertFile, "AMQP_CERT_FILE", "")
	str(&c.AMQP.KeyFile, "AMQP_KEY_FILE", "")
	str(&c.Mongo.URI, "MONGODB_URI", "")
	str(&c.Mongo.TLSCAFile, "MONGODB_TLS_CA_FILE", "")
	str(&c.Mongo.TLSCertKeyFile, "MONGODB_TLS_CERT_KEY_FILE", "")
	str(&c.Database, "MONGODB_DATABASE", "fitness")
	str(&c.AccessTeam, "ACCESS_TEAM_DOMAIN", "")
	str(&c.AccessAud, "ACCESS_AUD", "")
	str(&c.DevUser, "DEV_MODE_USER", "")
	str(&c.LogLevel, "LOG_LEVEL", "info")
	if c.Mongo.URI == "" {
		errs = append(errs, errors.New("MONGODB_URI (or MONGODB_URI_FILE) is required"))
	}
	switch {
	case dev && c.DevUser == "":
		errs = append(errs, errors.New("-dev needs DEV_MODE_USER, the fixed development user"))
	case !dev && c.DevUser != "":
		// Refuse rather than ignore: a leftover DEV_MODE_USER in production
		// must be noticed, and it never turns development mode on by itself.
		errs = append(errs, errors.New("DEV_MODE_USER is set without -dev; unset it (development mode needs both)"))
	case !dev && (c.AccessTeam == "" || c.AccessAud == ""):
		errs = append(errs, errors.New("ACCESS_TEAM_DOMAIN and ACCESS_AUD are required (or run with -dev and DEV_MODE_USER)"))
	}
	c.AMQP.ConnectionName = "fitness-web"
	c.Mongo.AppName = "fitness-web"
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	return c, nil
}
