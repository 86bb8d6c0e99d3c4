package main

import (
	"context"
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
	if err := t.check(); err != nil {
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
	// The broker's CA comes from the system roots (SSL_CERT_DIR in the pod).
	client := &http.Client{Timeout: time.Minute}
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
	return t.finish(ctx, filepath.Dir(path), env, logger)
}
