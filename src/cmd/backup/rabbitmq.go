package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/envconf"
	"github.com/homelab-gitops/homelab/src/internal/rabbitdefs"
)

func rabbitmqDefinitions(ctx context.Context, args []string, env envconf.Env, logger *slog.Logger, stderr io.Writer) error {
	fs := flag.NewFlagSet("rabbitmq-definitions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t target
	t.flags(fs, "rabbitmq")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if err := t.check(env); err != nil {
		return err
	}
	s := env.Settings()
	url := s.String("RABBITMQ_URL", "")
	user := s.String("RABBITMQ_USERNAME", "")
	password := s.String("RABBITMQ_PASSWORD", "")
	for name, v := range map[string]string{"RABBITMQ_URL": url, "RABBITMQ_USERNAME": user, "RABBITMQ_PASSWORD": password} {
		if v == "" {
			s.Fail(fmt.Errorf("%s (or %s_FILE) is required", name, name))
		}
	}
	if err := s.Err(); err != nil {
		return usageError{err}
	}
	client := &http.Client{Timeout: time.Minute}
	if caFile := s.String("RABBITMQ_CA_FILE", ""); caFile != "" {
		// The broker's certificate is from the cluster's internal CA; the
		// system roots stay for the bucket's public certificate.
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("read RABBITMQ_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("RABBITMQ_CA_FILE %s holds no PEM certificate", caFile)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	defs, err := rabbitdefs.Export(ctx, client, url, user, password)
	if err != nil {
		return err
	}
	path := t.out
	if t.root != "" {
		dir, err := t.dir()
		if err != nil {
			return err
		}
		path = filepath.Join(dir, "definitions.json")
	}
	if err := os.WriteFile(path, defs, 0o600); err != nil {
		return err
	}
	logger.Info("definitions exported", "file", path, "bytes", len(defs))
	return t.finish(ctx, filepath.Dir(path), logger)
}
