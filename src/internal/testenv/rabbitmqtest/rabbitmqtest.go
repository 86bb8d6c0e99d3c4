// Package rabbitmqtest gives a test package a real RabbitMQ broker of its own:
// Debian's rabbitmq-server, installed on first use and started as a private
// local process by scripts/rabbitmq.sh.
//
//	var broker *rabbitmqtest.Broker
//
//	func TestMain(m *testing.M) { os.Exit(rabbitmqtest.Main(m, &broker)) }
//
// Tests then dial broker.URL(). Fault tests may Stop and Start it.
package rabbitmqtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/localrabbit"
)

// Broker is the package's broker.
type Broker = localrabbit.Broker

// startTimeout bounds install (first run) plus start.
const startTimeout = 10 * time.Minute

// Start starts a broker in a fresh temporary directory.
func Start(ctx context.Context) (*Broker, func(), error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, nil, err
	}
	script, err := localrabbit.FindScript(wd)
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "rabbitmqtest-")
	if err != nil {
		return nil, nil, fmt.Errorf("rabbitmqtest: %w", err)
	}
	b, err := localrabbit.Start(ctx, script, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := b.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "rabbitmqtest:", err)
		}
		os.RemoveAll(dir)
	}
	return b, stop, nil
}

// Run starts a broker, stores it in *b, runs next (the package's tests, or another helper's Run) and stops
// the broker. Its result is the exit code for os.Exit.
func Run(b **Broker, next func() int) int {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	broker, stop, err := Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rabbitmqtest:", err)
		return 1
	}
	defer stop()
	*b = broker
	return next()
}

// Main is Run for a TestMain that needs only this server.
func Main(m *testing.M, b **Broker) int { return Run(b, m.Run) }
