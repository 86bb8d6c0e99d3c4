// Command fitbench measures the fitness services against the physical
// limits of the same servers, in one run, and prints the figures:
//
//	go run ./src/cmd/fitbench                 # every stage
//	go run ./src/cmd/fitbench -stages consumer,reads
//	go run ./src/cmd/fitbench -stages consumer,cluster -n 30000   # persist ratio, single node and 3-node cluster
//
// It starts a private RabbitMQ and an embedded FerretDB (or uses
// MONGODB_URI) and stops them at the end. Figures are printed, never
// asserted: compare them only within one run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/bench"
)

// stage is one measurement.
type stage struct {
	name string
	run  func(ctx context.Context, e *env) error
}

// stages run in this order; other files add theirs with register.
var stages []stage

func register(name string, run func(ctx context.Context, e *env) error) {
	stages = append(stages, stage{name: name, run: run})
}

// env is what stages share.
type env struct {
	servers    *bench.Servers
	n          int
	goroutines int
	window     int
	batch      int
	replicas   int
	rate       int
	duration   time.Duration
	// end is the day the generated histories end.
	end time.Time
	// readDB is the database the consumer stage filled (100,000 workouts),
	// read by the reads stage.
	readDB string
}

func main() {
	var (
		only = flag.String("stages", "", "comma-separated stages to run (default: all)")
		e    = env{end: time.Now().UTC().Truncate(24 * time.Hour)}
	)
	flag.IntVar(&e.n, "n", 100_000, "workouts in the consumer and reads data set")
	flag.IntVar(&e.goroutines, "goroutines", 64, "concurrent publishers")
	flag.IntVar(&e.window, "window", 1000, "confirm window for publishing")
	flag.IntVar(&e.batch, "batch", 0, "consumer batch size (0: the consumer's default)")
	flag.IntVar(&e.replicas, "replicas", 1, "consumers draining the queue in the consumer stage")
	flag.IntVar(&e.rate, "rate", 500, "fixed rate for latency figures, per second")
	flag.DurationVar(&e.duration, "duration", 10*time.Second, "how long the fixed-rate stages run")
	flag.Parse()
	if err := run(*only, &e); err != nil {
		fmt.Fprintln(os.Stderr, "fitbench:", err)
		os.Exit(1)
	}
}

func run(only string, e *env) error {
	var names []string
	for _, s := range stages {
		names = append(names, s.name)
	}
	selected := names
	if only != "" {
		selected = strings.Split(only, ",")
		for _, n := range selected {
			if !slices.Contains(names, n) {
				return fmt.Errorf("unknown stage %q (stages: %s)", n, strings.Join(names, ", "))
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	servers, err := bench.StartServers(ctx)
	if err != nil {
		return err
	}
	defer servers.Close()
	e.servers = servers
	store := "embedded FerretDB (SQLite)"
	if !servers.Embedded {
		store = "MONGODB_URI"
	}
	fmt.Printf("servers: RabbitMQ %s, store %s (started in %v)\n", servers.AMQPURL, store, time.Since(start).Round(time.Millisecond))
	for _, s := range stages {
		if !slices.Contains(selected, s.name) {
			continue
		}
		fmt.Printf("\n== %s\n", s.name)
		t := time.Now()
		if err := s.run(ctx, e); err != nil {
			return fmt.Errorf("stage %s: %w", s.name, err)
		}
		fmt.Printf("(%s took %v)\n", s.name, time.Since(t).Round(time.Second))
	}
	return nil
}
