// Package rabbitmqtest gives a test package a real RabbitMQ broker of its own:
// Debian's rabbitmq-server, installed on first use and started as a private
// local process by scripts/rabbitmq.sh.
//
//	var broker *rabbitmqtest.Broker
//
//	func TestMain(m *testing.M) { os.Exit(rabbitmqtest.Main(m, &broker)) }
//
// Tests then dial broker.URL(). Fault tests may Stop and Start it.
//
// StartTLS starts a broker that also listens for AMQPS (broker.TLSURL()) and
// requires client certificates, with certificates made by tlstest.
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
	return start(ctx, "")
}

// StartTLS starts a broker in a fresh temporary directory that also listens
// for AMQPS with the CA and server certificate in tlsDir (ca.pem, server.pem,
// server-key.pem, as tlstest.CA.WriteFiles writes them) and requires a client
// certificate signed by that CA.
func StartTLS(ctx context.Context, tlsDir string) (*Broker, func(), error) {
	if tlsDir == "" {
		return nil, nil, fmt.Errorf("rabbitmqtest: tls directory is empty")
	}
	return start(ctx, tlsDir)
}

func start(ctx context.Context, tlsDir string) (*Broker, func(), error) {
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
	var b *Broker
	if tlsDir == "" {
		b, err = localrabbit.Start(ctx, script, dir)
	} else {
		b, err = localrabbit.StartTLS(ctx, script, dir, localrabbit.TLS{Dir: tlsDir})
	}
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
