// Command web serves the fitness app: pages and JSON API behind Cloudflare
// Access, workouts logged through RabbitMQ with publisher confirms, history
// read from MongoDB. Configuration is by environment (see config.go); the
// flag -dev (with DEV_MODE_USER) replaces Cloudflare Access by a fixed user
// for local development only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	// Public CA roots, used only when the system has none (docs/delivery.md).
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/demo"
	"github.com/homelab-gitops/homelab/src/internal/envconf"
	"github.com/homelab-gitops/homelab/src/internal/oidclogin"
	"github.com/homelab-gitops/homelab/src/internal/peers"
	"github.com/homelab-gitops/homelab/src/internal/publish"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/web"
)

func main() {
	dev := flag.Bool("dev", false, "development mode: every request is the DEV_MODE_USER, without Cloudflare Access (never in production)")
	seed := flag.Bool("seed-demo", false, "with -dev: publish two years of demo history for DEV_MODE_USER")
	flag.Parse()
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, envconf.Env(os.LookupEnv), *dev, *seed); err != nil {
		logger.Error("web failed", "error", err.Error())
		stop()
		os.Exit(1)
	}
}

// run serves until ctx ends (SIGINT or SIGTERM), then shuts down in order:
// HTTP first, then the publisher once its outstanding confirms are in.
func run(ctx context.Context, out io.Writer, env envconf.Env, dev, seed bool) error {
	cfg, err := loadConfig(env, dev)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if seed && !dev {
		return errors.New("-seed-demo needs -dev")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("LOG_LEVEL: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level}))

	logger.Info("starting", "http_addr", cfg.HTTPAddr, "metrics_addr", cfg.MetricsAddr, "database", cfg.Database,
		"access_team_domain", cfg.AccessTeam, "dev", dev, "amqp_nodes", len(cfg.AMQP.Addresses()), "amqp_tls", cfg.AMQP.CAFile != "" || cfg.AMQP.CertFile != "",
		"mongodb_tls", cfg.Mongo.TLSCAFile != "" || cfg.Mongo.TLSCertKeyFile != "")

	var auth access.Authenticator
	var login *oidclogin.Login
	if dev {
		auth = access.Dev{User: cfg.DevUser}
		for range 3 {
			logger.Warn("!!! DEVELOPMENT MODE: Cloudflare Access is OFF; every request is signed in as DEV_MODE_USER. Never expose this server. !!!",
				"dev_mode_user", cfg.DevUser)
		}
	} else {
		v, err := access.NewVerifier(access.Config{TeamDomain: cfg.AccessTeam, Audience: cfg.AccessAud})
		if err != nil {
			return err
		}
		auth = v
		if cfg.OIDC() {
			// Remote users arrive without the Access header (WARP and the
			// tunnel at L4): they sign in with OpenID Connect instead.
			login, err = oidclogin.New(oidclogin.Config{Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
				RedirectURL: cfg.OIDCRedirectURL, Key: []byte(cfg.SessionKey), Logger: logger})
			if err != nil {
				return err
			}
			auth = oidclogin.Chain{Header: v, Session: login}
		}
	}

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
			logger.Warn("disconnect from mongodb", "error", err.Error())
		}
	}()
	reader := store.NewReader(client.Database(cfg.Database), store.ReaderOptions{Logger: logger})

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pub := publish.New(publish.Config{Dial: cfg.AMQP, Logger: logger, Registry: reg})
	// The other replicas hear of every workout this one accepted, and it of
	// theirs, so a user's next request shows it whichever replica serves it.
	history := web.StoreReader(reader)
	notifier, err := peers.New(peers.Config{Dial: cfg.AMQP, Sink: history, Registry: reg, Logger: logger})
	if err != nil {
		return err
	}
	var announcing sync.WaitGroup
	announcing.Add(1)
	go func() {
		defer announcing.Done()
		notifier.Run(ctx)
	}()
	defer func() {
		stop()
		announcing.Wait()
	}()
	app, err := web.New(web.Options{
		Publisher: pub,
		Reader:    history,
		Peers:     notifier,
		Profiles:  store.NewProfiles(client.Database(cfg.Database), nil),
		Login:     loginHandler(login),
		Auth:      auth,
		Dev:       dev,
		Logger:    logger,
		Registry:  reg,
	})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           app,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	metricsSrv := &http.Server{
		Addr:              cfg.MetricsAddr,
		Handler:           promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	errc := make(chan error, 2)
	serve := func(name string, s *http.Server) {
		logger.Info("listening", "server", name, "addr", s.Addr)
		if err := s.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("%s server: %w", name, err)
			stop()
		}
	}
	go serve("http", srv)
	go serve("metrics", metricsSrv)

	var seeding sync.WaitGroup
	if seed {
		seeding.Add(1)
		go func() {
			defer seeding.Done()
			seedDemo(ctx, logger, pub, cfg.DevUser)
		}()
	}

	<-ctx.Done()
	logger.Info("shutting down: HTTP first, then outstanding confirms")
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	seeding.Wait()
	if err := pub.Close(sctx); err != nil {
		errs = append(errs, fmt.Errorf("publisher close: %w", err))
	}
	// Histories loaded since the last snapshot: the next replica's first
	// pages are answered from them.
	if err := reader.Flush(sctx); err != nil {
		errs = append(errs, err)
	}
	if err := metricsSrv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("metrics shutdown: %w", err))
	}
	select {
	case err := <-errc:
		errs = append(errs, err)
	default:
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

// seedDemo publishes two years of demo history for user through the
// broker, like logged workouts. The ids are stable, so seeding again adds
// nothing.
func seedDemo(ctx context.Context, logger *slog.Logger, pub *publish.Publisher, user string) {
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for !pub.Ready() {
		select {
		case <-wait.Done():
			logger.Error("demo seed: the broker never became ready")
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	history := demo.History(user, time.Now(), 104)
	var failed atomic.Int64
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				if err := pub.Publish(pctx, history[i]); err != nil {
					failed.Add(1)
				}
				cancel()
			}
		}()
	}
feed:
	for i := range history {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	logger.Info("demo history published", "user", user, "workouts", len(history), "failed", failed.Load())
}

// loginHandler is login as web.Options wants it: nil when sign-in is off
// (a nil *Login in the interface would not be nil).
func loginHandler(l *oidclogin.Login) web.Login {
	if l == nil {
		return nil
	}
	return l
}
