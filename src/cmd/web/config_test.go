package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/src/internal/envconf"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "amqp-url")
	if err := os.WriteFile(secret, []byte("amqps://web:s3cret@rabbitmq:5671/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	prod := map[string]string{
		"MONGODB_URI": "mongodb://mongo:27017/", "ACCESS_TEAM_DOMAIN": "homelab.cloudflareaccess.com", "ACCESS_AUD": "aud",
	}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range prod {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name    string
		env     map[string]string
		dev     bool
		wantErr string
		check   func(t *testing.T, c config)
	}{
		{name: "production defaults", env: prod, check: func(t *testing.T, c config) {
			if c.HTTPAddr != ":8080" || c.MetricsAddr != ":9090" || c.Database != "fitness" || c.AMQP.URL != "amqp://guest:guest@rabbitmq:5672/" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "secret from a file", env: with(map[string]string{"AMQP_URL_FILE": secret}), check: func(t *testing.T, c config) {
			if c.AMQP.URL != "amqps://web:s3cret@rabbitmq:5671/" {
				t.Errorf("AMQP URL %q", c.AMQP.URL)
			}
		}},
		{name: "value and file both set", env: with(map[string]string{"AMQP_URL": "amqp://x/", "AMQP_URL_FILE": secret}), wantErr: "both AMQP_URL and AMQP_URL_FILE"},
		{name: "no access settings", env: map[string]string{"MONGODB_URI": "mongodb://m/"}, wantErr: "ACCESS_TEAM_DOMAIN and ACCESS_AUD"},
		{name: "no database", env: map[string]string{"ACCESS_TEAM_DOMAIN": "t", "ACCESS_AUD": "a"}, wantErr: "MONGODB_URI"},
		{name: "oidc sign-in", env: with(map[string]string{"OIDC_ISSUER": "https://homelab.cloudflareaccess.com/cdn-cgi/access/sso/oidc/abc",
			"OIDC_CLIENT_ID": "abc", "OIDC_CLIENT_SECRET": "s", "OIDC_REDIRECT_URL": "https://fitness.example/auth/callback", "SESSION_KEY": strings.Repeat("k", 32)}),
			check: func(t *testing.T, c config) {
				if !c.OIDC() || c.OIDCClientID != "abc" {
					t.Errorf("oidc settings: %+v", c)
				}
			}},
		{name: "oidc half set", env: with(map[string]string{"OIDC_ISSUER": "https://x", "OIDC_CLIENT_ID": "abc"}), wantErr: "set all or none"},
		{name: "dev user without -dev", env: with(map[string]string{"DEV_MODE_USER": "dev@localhost"}), wantErr: "without -dev"},
		{name: "-dev without user", env: map[string]string{"MONGODB_URI": "mongodb://m/"}, dev: true, wantErr: "needs DEV_MODE_USER"},
		{name: "development", env: map[string]string{"MONGODB_URI": "mongodb://m/", "DEV_MODE_USER": "dev@localhost"}, dev: true,
			check: func(t *testing.T, c config) {
				if c.DevUser != "dev@localhost" {
					t.Errorf("dev user %q", c.DevUser)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(envconf.Map(tt.env), tt.dev)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}
