// Command chaos is `make chaos`: the write path (web handler, publisher,
// three consumers, embedded store) against a three-node RabbitMQ cluster in
// network namespaces, under an open-loop load of POSTs for a bounded time,
// while a seeded scheduler injects broker faults at random: kill -9 of the
// quorum queue's leader or of any node, graceful restarts, a rolling restart,
// partitions. It then audits the store against every 202 the load got,
// prints a table and exits 1 on any loss, duplicate or broken answer.
// Needs root (ip netns). Ctrl-C stops the run and cleans up.
//
//	go run ./src/cmd/chaos -duration 10m -seed 42
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
	"syscall"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/chaos"
)

func main() {
	duration := flag.Duration("duration", 10*time.Minute, "how long the load runs")
	seed := flag.Uint64("seed", 0, "scheduler seed (0: from the clock); the same seed draws the same faults, gaps and nodes")
	rate := flag.Int("rate", 500, "POSTs per second")
	gap := flag.Duration("gap", 30*time.Second, "longest quiet time between two faults")
	down := flag.Duration("down", 10*time.Second, "how long a killed or stopped node stays down")
	partition := flag.Duration("partition", 30*time.Second, "longest partition")
	logFile := flag.String("log", "", "services' log file (default: a new file in the temporary directory)")
	flag.Parse()
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *duration, *seed, *rate, *gap, *down, *partition, *logFile); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, duration time.Duration, seed uint64, rate int, gap, down, partition time.Duration, logFile string) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("needs root: the cluster's nodes run in network namespaces")
	}
	if duration <= 0 || rate <= 0 || gap <= 0 || down < 0 || partition < 4*time.Second {
		return errors.New("-duration, -rate and -gap must be positive, -down not negative, -partition at least 4s")
	}
	var f *os.File
	if logFile == "" {
		f, err = os.CreateTemp("", "chaos-*.log")
	} else {
		f, err = os.Create(filepath.Clean(logFile))
	}
	if err != nil {
		return err
	}
	defer f.Close()
	services := slog.New(slog.NewTextHandler(f, nil))
	out := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fmt.Printf("chaos: seed %d, %s at %d POST/s, faults up to every %s; services' log %s\n", seed, duration, rate, gap, f.Name())

	start := time.Now()
	s, err := chaos.StartStack(ctx, chaos.Options{Logger: services})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	out.Info("stack up", "took", time.Since(start).Round(time.Second), "nodes", s.Cluster.URLs(), "web", s.URL)

	o, injections, runErr := s.Chaos(ctx, chaos.ChaosOptions{
		Duration: duration,
		Seed:     seed,
		Rate:     rate,
		Faults:   chaos.Faults(down, partition),
		Gap:      gap,
		Log:      out,
	})
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after %d faults", len(injections))
	}
	fmt.Printf("\nseed %d: %d faults in %s\n", seed, len(injections), duration)
	if err := chaos.Report(os.Stdout, o); err != nil {
		return err
	}
	return errors.Join(runErr, o.Err())
}
