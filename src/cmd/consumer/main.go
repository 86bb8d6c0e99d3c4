// Command consumer persists logged workouts from RabbitMQ into MongoDB.
// Configuration is by environment; see config.go.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"go.mongodb.org/mongo-driver/v2/mongo"

	// Public CA roots, used only when the system has none (docs/delivery.md).
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/homelab-gitops/homelab/src/internal/backoff"
	"github.com/homelab-gitops/homelab/src/internal/consumer"
	"github.com/homelab-gitops/homelab/src/internal/envconf"
	"github.com/homelab-gitops/homelab/src/internal/store"
)

func main() {
	// Kubernetes stops a pod with SIGTERM; a terminal with SIGINT.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, envconf.Env(os.LookupEnv), os.Stdout); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("consumer failed", "error", err)
		stop()
		os.Exit(1)
	}
}

// run consumes until ctx ends, with the settings in env, logging JSON to
// logs.
func run(ctx context.Context, env envconf.Env, logs io.Writer) error {
	cfg, err := loadConfig(env)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("LOG_LEVEL: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))

	ctx, stop := context.WithCancel(ctx)
	defer stop()

	client, err := store.Connect(cfg.Mongo)
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := client.Disconnect(dctx); err != nil {
			logger.Warn("disconnect from mongodb", "error", err)
		}
	}()
	db := client.Database(cfg.Database)
	go ensureIndexes(ctx, db, logger)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	c, err := consumer.New(consumer.Config{
		Dial:      cfg.AMQP,
		Store:     store.NewWriter(db),
		Prefetch:  cfg.Prefetch,
		BatchSize: cfg.BatchSize,
		BatchWait: cfg.BatchWait,
		Metrics:   consumer.NewMetrics(reg),
		Logger:    logger,
	})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Addr:              cfg.MetricsAddr,
		Handler:           consumer.Handler(c, reg),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	srvErr := make(chan error, 1)
	go func() {
		logger.Info("serving health and metrics", "addr", cfg.MetricsAddr)
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			srvErr <- fmt.Errorf("metrics server: %w", err)
			stop()
		}
		close(srvErr)
	}()

	runErr := c.Run(ctx)
	logger.Info("consumer stopped; shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	return errors.Join(runErr, shutErr, <-srvErr)
}

// ensureIndexes creates the read indexes, retrying while the database is
// down; the consumer does not need them to write, so it does not wait.
func ensureIndexes(ctx context.Context, db *mongo.Database, logger *slog.Logger) {
	policy := backoff.Policy{Min: time.Second, Max: time.Minute}
	for attempt := 0; ; attempt++ {
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := store.EnsureIndexes(ictx, db)
		cancel()
		if err == nil {
			return
		}
		logger.Warn("ensure indexes failed; retrying", "error", err)
		if !policy.Sleep(ctx, attempt) {
			return
		}
	}
}
