// Package chaos proves the write path's promise under broker faults: the
// web handler, its publisher, three consumers and the embedded store run
// against a three-node RabbitMQ cluster whose nodes live in network
// namespaces of their own, while loadgen's open-loop load POSTs workouts.
// Faults (kill -9 of the quorum queue's leader, graceful and rolling
// restarts, a partition) are injected one at a time (RunFault) or at random
// by a seeded scheduler (Chaos), and the store is audited against every
// 202 the load received.
//
// The package's tests run short versions of each fault and a short chaos
// run; src/cmd/chaos is `make chaos`. Both need root (ip netns).
package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/backoff"
	"github.com/homelab-gitops/homelab/src/internal/consumer"
	"github.com/homelab-gitops/homelab/src/internal/localmongo"
	"github.com/homelab-gitops/homelab/src/internal/localrabbit"
	"github.com/homelab-gitops/homelab/src/internal/publish"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/topology"
	"github.com/homelab-gitops/homelab/src/internal/web"
)

// UserHeader carries the load's users to the stack's authenticator.
const UserHeader = "X-Load-User"

// Heartbeat is the clients' AMQP heartbeat: a connection to a node cut off
// by a partition is given up after about three of them.
const Heartbeat = 2 * time.Second

// Options shape a stack.
type Options struct {
	// Dir holds the cluster's and the store's state (a new temporary
	// directory, removed by Close, when empty).
	Dir string
	// Nodes and Consumers default to 3.
	Nodes     int
	Consumers int
	// Logger receives the services' warnings and errors (discarded when nil).
	Logger *slog.Logger
}

// Stack is the write path on this machine.
type Stack struct {
	Cluster *localrabbit.Cluster
	Store   *localmongo.Server
	// DB is the database the consumers write to.
	DB *mongo.Database
	// URL is the web app's base URL.
	URL string

	opts      Options
	pub       *publish.Publisher
	consumers []*consumer.Consumer
	// registries hold each consumer's metrics.
	registries []*prometheus.Registry
	closers    []func() error
	closeOnce  sync.Once
	closeErr   error
}

// StartStack starts the cluster (in network namespaces: root only), the
// embedded store, the consumers and the web handler.
func StartStack(ctx context.Context, o Options) (s *Stack, err error) {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Consumers == 0 {
		o.Consumers = 3
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s = &Stack{opts: o}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "chaos-")
		if err != nil {
			return nil, fmt.Errorf("start stack: %w", err)
		}
		s.closers = append(s.closers, func() error { return os.RemoveAll(dir) })
		o.Dir = dir
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	script, err := localrabbit.FindScript(wd)
	if err != nil {
		return nil, err
	}
	s.Cluster, err = localrabbit.StartCluster(ctx, script, filepath.Join(o.Dir, "rabbitmq"), localrabbit.ClusterOptions{Nodes: o.Nodes, Netns: true})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		return s.Cluster.Stop(ctx)
	})

	s.Store, err = localmongo.Start(ctx, filepath.Join(o.Dir, "ferretdb"), o.Logger)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.Store.Stop)
	client, err := store.Connect(store.Config{URI: s.Store.URI(), AppName: "chaos", ServerSelectionTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() error { return client.Disconnect(context.Background()) })
	s.DB = client.Database("chaos")
	ictx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := store.EnsureIndexes(ictx, s.DB); err != nil {
		return nil, fmt.Errorf("create indexes: %w", err)
	}

	dial := amqpconn.Config{URLs: s.Cluster.URLs(), Heartbeat: Heartbeat}
	cctx, stopConsumers := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var consumeErrs []error
	var mu sync.Mutex
	s.closers = append(s.closers, func() error {
		stopConsumers()
		wg.Wait()
		return errors.Join(consumeErrs...)
	})
	for i := range o.Consumers {
		dial := dial
		dial.ConnectionName = fmt.Sprintf("chaos consumer %d", i+1)
		reg := prometheus.NewRegistry()
		s.registries = append(s.registries, reg)
		c, err := consumer.New(consumer.Config{
			Dial:      dial,
			Metrics:   consumer.NewMetrics(reg),
			Store:     store.NewWriter(s.DB),
			Reconnect: backoff.Policy{Min: 100 * time.Millisecond, Max: 2 * time.Second},
			Retry:     backoff.Policy{Min: 100 * time.Millisecond, Max: 2 * time.Second},
			Logger:    o.Logger.With("consumer", i+1),
		})
		if err != nil {
			return nil, err
		}
		s.consumers = append(s.consumers, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Run(cctx); err != nil {
				mu.Lock()
				consumeErrs = append(consumeErrs, fmt.Errorf("consumer %d: %w", i+1, err))
				mu.Unlock()
			}
		}()
	}

	s.pub = publish.New(publish.Config{
		Dial:    dial,
		Backoff: backoff.Policy{Min: 50 * time.Millisecond, Max: time.Second},
		Logger:  o.Logger,
	})
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return s.pub.Close(ctx)
	})
	app, err := web.New(web.Options{
		Publisher:  s.pub,
		Reader:     web.StoreReader(store.NewReader(s.DB, store.ReaderOptions{Logger: o.Logger})),
		Auth:       headerAuth{},
		Dev:        true,
		Logger:     o.Logger,
		RetryAfter: time.Second,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	// The timeouts of src/cmd/web.
	srv := &http.Server{
		Handler:           app,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	})
	s.URL = "http://" + ln.Addr().String()
	return s, s.WaitReady(ctx, time.Minute)
}

// Close stops everything StartStack started, the web handler first.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for i := len(s.closers) - 1; i >= 0; i-- {
			errs = append(errs, s.closers[i]())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// WaitReady waits until the publisher and every consumer are connected.
func (s *Stack) WaitReady(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		ready := s.pub.Ready()
		for _, c := range s.consumers {
			ready = ready && c.Ready()
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("publisher or consumers not connected after %s", within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Absorbed counts the deliveries the consumers found already stored
// (redeliveries after a lost ack, written once and acknowledged).
func (s *Stack) Absorbed() int {
	n := 0.0
	for _, reg := range s.registries {
		families, err := reg.Gather()
		if err != nil {
			continue
		}
		for _, f := range families {
			if f.GetName() == "fitness_consumer_duplicates_total" && len(f.GetMetric()) == 1 {
				n += f.GetMetric()[0].GetCounter().GetValue()
			}
		}
	}
	return int(n)
}

// ResetStore empties the workouts collection, so that a run's audit scans
// only its own workouts (the embedded store reads the whole collection for
// any query).
func (s *Stack) ResetStore(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.DB.Collection(store.Collection).Drop(ctx); err != nil {
		return fmt.Errorf("reset store: %w", err)
	}
	if err := store.EnsureIndexes(ctx, s.DB); err != nil {
		return fmt.Errorf("reset store: %w", err)
	}
	return nil
}

// ctlTimeout bounds one rabbitmqctl call. Each call starts an Erlang VM,
// which on a busy 2-core machine (a cold CI run compiling beside the
// tests) alone took over 20 s: the bound is against a call that hangs, not
// a performance target.
const ctlTimeout = time.Minute

// QueueLeader is the index of the node leading the work queue, asked of
// each node in turn until one answers.
func (s *Stack) QueueLeader(ctx context.Context) (int, error) {
	var errs []error
	for i := range s.Cluster.Nodes() {
		qctx, cancel := context.WithTimeout(ctx, ctlTimeout)
		leader, err := s.Cluster.QueueLeader(qctx, i, topology.Queue)
		cancel()
		if err == nil {
			return leader, nil
		}
		errs = append(errs, err)
	}
	return -1, fmt.Errorf("no node named the leader of %s: %w", topology.Queue, errors.Join(errs...))
}

// QueueDepth is the number of messages in the work queue, ready or not yet
// acknowledged, asked of each node in turn.
func (s *Stack) QueueDepth(ctx context.Context) (int, error) {
	var errs []error
	for _, n := range s.Cluster.Nodes() {
		depth, err := queueDepth(ctx, n.URL())
		if err == nil {
			return depth, nil
		}
		errs = append(errs, err)
	}
	return 0, errors.Join(errs...)
}

func queueDepth(ctx context.Context, url string) (int, error) {
	conn, err := amqpconn.Dial(ctx, amqpconn.Config{URL: url})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return 0, fmt.Errorf("open channel: %w", err)
	}
	// The declare answers with ready messages only; unacknowledged ones
	// are counted by the caller's audit (a 202 not stored).
	q, err := ch.QueueDeclarePassive(topology.Queue, true, false, false, false, amqp.Table(nil))
	if err != nil {
		return 0, fmt.Errorf("inspect %s: %w", topology.Queue, err)
	}
	return q.Messages, nil
}

// headerAuth takes the user from UserHeader: the stack is a test harness
// behind no Cloudflare Access.
type headerAuth struct{}

func (headerAuth) Authenticate(r *http.Request) (access.Identity, error) {
	u := r.Header.Get(UserHeader)
	if u == "" {
		return access.Identity{}, access.ErrNoToken
	}
	return access.Identity{UserID: u, Email: u}, nil
}
