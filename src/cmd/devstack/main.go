// Command devstack runs the local stack for `make run`: a private RabbitMQ
// (one node, or a cluster with -rabbit-nodes 3), the embedded MongoDB-compatible server (or MONGODB_URI), the consumers and
// the web app in development mode. Ctrl-C stops everything it started, in
// order: web first, then the consumers, then the servers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/localmongo"
	"github.com/homelab-gitops/homelab/src/internal/localrabbit"
	"github.com/homelab-gitops/homelab/src/internal/store"
)

type options struct {
	bin       string
	state     string
	consumers int
	nodes     int
	httpAddr  string
	devUser   string
	seed      bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin", "directory holding the web and consumer binaries")
	flag.StringVar(&o.state, "state", ".run", "directory for broker and database state and logs")
	flag.IntVar(&o.consumers, "consumers", 3, "number of consumer replicas")
	flag.IntVar(&o.nodes, "rabbit-nodes", 1, "RabbitMQ nodes: 1, or a cluster of 2 to 9 on loopback (the services get every node's URL in AMQP_URLS)")
	flag.StringVar(&o.httpAddr, "http", "127.0.0.1:8080", "web app listen address")
	flag.StringVar(&o.devUser, "user", "dev@example.com", "the fixed development-mode user")
	flag.BoolVar(&o.seed, "seed", false, "seed two years of demo history for the development user")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, o); err != nil {
		log.Error("devstack failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, o options) (err error) {
	state, err := filepath.Abs(o.state)
	if err != nil {
		return err
	}
	logs := filepath.Join(state, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", logs, err)
	}

	script, err := localrabbit.FindScript(".")
	if err != nil {
		return err
	}
	amqpEnv, brokerURLs, stopBroker, err := startBroker(ctx, log, script, state, o.nodes)
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = errors.Join(err, stopBroker(stopCtx))
		log.Info("RabbitMQ stopped")
	}()

	mongoURI := os.Getenv("MONGODB_URI")
	if mongoURI == "" {
		db, err := localmongo.Start(ctx, filepath.Join(state, "ferretdb"), nil)
		if err != nil {
			return err
		}
		defer func() {
			err = errors.Join(err, db.Stop())
			log.Info("embedded MongoDB-compatible server stopped")
		}()
		mongoURI = db.URI()
		log.Info("embedded MongoDB-compatible server (FerretDB, SQLite) up", "uri", mongoURI)
		// Created once here: three consumers creating the indexes of a new
		// database at the same moment make FerretDB's SQLite backend drop
		// connections (they retry, but the log shows an error each time).
		if err := ensureIndexes(ctx, mongoURI); err != nil {
			return err
		}
	} else {
		log.Info("using MONGODB_URI")
	}

	env := []string{amqpEnv, "MONGODB_URI=" + mongoURI}
	var procs []*process
	defer func() {
		// Reverse start order: the web app stops taking workouts before the
		// consumers that drain them go away.
		for i := len(procs) - 1; i >= 0; i-- {
			err = errors.Join(err, procs[i].stop(30*time.Second))
		}
	}()
	for i := 1; i <= o.consumers; i++ {
		p, err := startProcess(log, o.bin, "consumer", fmt.Sprintf("consumer-%d", i), logs,
			append(env, fmt.Sprintf("METRICS_ADDR=127.0.0.1:%d", 9100+i)))
		if err != nil {
			return err
		}
		if p != nil {
			procs = append(procs, p)
		}
	}
	webArgs := []string{"-dev"}
	if o.seed {
		webArgs = append(webArgs, "-seed-demo")
	}
	web, err := startProcess(log, o.bin, "web", "web", logs,
		append(env, "HTTP_ADDR="+o.httpAddr, "METRICS_ADDR=127.0.0.1:9090", "DEV_MODE_USER="+o.devUser),
		webArgs...)
	if err != nil {
		return err
	}
	if web != nil {
		procs = append(procs, web)
	}

	fmt.Fprintf(os.Stderr, `
  local stack is up (Ctrl-C stops everything)
    web app       http://%s/  (development mode, user %s)
    metrics       http://127.0.0.1:9090/metrics
    RabbitMQ      %s   (state in %s)
    MongoDB       %s
    logs          tail -f %s/*.log

`, o.httpAddr, o.devUser, strings.Join(brokerURLs, " "), filepath.Join(state, rabbitDir(o.nodes)), mongoURI, logs)

	select {
	case <-ctx.Done():
		log.Info("stopping the local stack")
		return nil
	case p := <-exited(procs):
		return fmt.Errorf("%s exited unexpectedly (%v); see %s", p.name, p.err, p.logPath)
	}
}

// rabbitDir is the broker's state directory under the state directory: a
// cluster's is not a single node's, so switching does not mix them up.
func rabbitDir(nodes int) string {
	if nodes == 1 {
		return "rabbitmq"
	}
	return fmt.Sprintf("rabbitmq-cluster-%d", nodes)
}

// startBroker starts one node or a cluster on loopback and returns the
// services' AMQP setting, the nodes' URLs and how to stop them.
func startBroker(ctx context.Context, log *slog.Logger, script, state string, nodes int) (string, []string, func(context.Context) error, error) {
	dir := filepath.Join(state, rabbitDir(nodes))
	if nodes == 1 {
		log.Info("starting RabbitMQ (installed on first run)", "dir", dir)
		b, err := localrabbit.Start(ctx, script, dir)
		if err != nil {
			return "", nil, nil, err
		}
		return "AMQP_URL=" + b.URL(), []string{b.URL()}, b.Stop, nil
	}
	if nodes < 2 || nodes > 9 {
		return "", nil, nil, fmt.Errorf("-rabbit-nodes %d: want 1 to 9", nodes)
	}
	log.Info("starting a RabbitMQ cluster (installed on first run)", "nodes", nodes, "dir", dir)
	c, err := localrabbit.StartCluster(ctx, script, dir, localrabbit.ClusterOptions{Nodes: nodes})
	if err != nil {
		return "", nil, nil, err
	}
	return "AMQP_URLS=" + strings.Join(c.URLs(), ","), c.URLs(), c.Stop, nil
}

// ensureIndexes creates the services' indexes in their default database
// (MONGODB_DATABASE, as the services read it).
func ensureIndexes(ctx context.Context, uri string) error {
	client, err := store.Connect(store.Config{URI: uri, AppName: "devstack"})
	if err != nil {
		return err
	}
	defer client.Disconnect(context.Background())
	name := os.Getenv("MONGODB_DATABASE")
	if name == "" {
		name = "fitness"
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := store.EnsureIndexes(ctx, client.Database(name)); err != nil {
		return fmt.Errorf("create indexes in %s: %w", name, err)
	}
	return nil
}
