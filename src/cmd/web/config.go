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
	// OIDC* configure the sign-in used when the Access header is absent
	// (all or none; package oidclogin). SessionKey signs its cookies and
	// must be the same on every replica.
	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	OIDCRedirectURL  string
	SessionKey       string
	DevUser          string
	LogLevel         string
}

// OIDC reports whether the OpenID Connect sign-in is configured.
func (c config) OIDC() bool { return c.OIDCIssuer != "" }

func loadConfig(env envconf.Env, dev bool) (config, error) {
	s := env.Settings()
	c := config{
		HTTPAddr:         s.String("HTTP_ADDR", ":8080"),
		MetricsAddr:      s.String("METRICS_ADDR", ":9090"),
		AMQP:             amqpconn.ConfigFromEnv(s, "fitness-web"),
		Mongo:            store.ConfigFromEnv(s, "fitness-web"),
		Database:         s.String("MONGODB_DATABASE", "fitness"),
		AccessTeam:       s.String("ACCESS_TEAM_DOMAIN", ""),
		AccessAud:        s.String("ACCESS_AUD", ""),
		OIDCIssuer:       s.String("OIDC_ISSUER", ""),
		OIDCClientID:     s.String("OIDC_CLIENT_ID", ""),
		OIDCClientSecret: s.String("OIDC_CLIENT_SECRET", ""),
		OIDCRedirectURL:  s.String("OIDC_REDIRECT_URL", ""),
		SessionKey:       s.String("SESSION_KEY", ""),
		DevUser:          s.String("DEV_MODE_USER", ""),
		LogLevel:         s.String("LOG_LEVEL", "info"),
	}
	switch {
	case dev && c.DevUser == "":
		s.Fail(errors.New("-dev needs DEV_MODE_USER, the fixed development user"))
	case !dev && c.DevUser != "":
		// Refuse rather than ignore: a leftover DEV_MODE_USER in production
		// must be noticed, and it never turns development mode on by itself.
		s.Fail(errors.New("DEV_MODE_USER is set without -dev; unset it (development mode needs both)"))
	case !dev && (c.AccessTeam == "" || c.AccessAud == ""):
		s.Fail(errors.New("ACCESS_TEAM_DOMAIN and ACCESS_AUD are required (or run with -dev and DEV_MODE_USER)"))
	}
	set := 0
	for _, v := range []string{c.OIDCIssuer, c.OIDCClientID, c.OIDCClientSecret, c.OIDCRedirectURL, c.SessionKey} {
		if v != "" {
			set++
		}
	}
	if set != 0 && set != 5 {
		s.Fail(errors.New("OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URL and SESSION_KEY go together: set all or none"))
	}
	if err := s.Err(); err != nil {
		return config{}, err
	}
	return c, nil
}
