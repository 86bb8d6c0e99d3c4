package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/backoff"
	"github.com/homelab-gitops/homelab/src/internal/consumer"
	"github.com/homelab-gitops/homelab/src/internal/peers"
	"github.com/homelab-gitops/homelab/src/internal/publish"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/consumerfleet"
	"github.com/homelab-gitops/homelab/src/internal/testenv/mongotest"
	"github.com/homelab-gitops/homelab/src/internal/testenv/rabbitmqtest"
	"github.com/homelab-gitops/homelab/src/internal/topology"
	"github.com/homelab-gitops/homelab/src/internal/web"
)

var (
	broker *rabbitmqtest.Broker
	mongod *mongotest.Server
)

func TestMain(m *testing.M) {
	consumerfleet.RunIfChild()
	os.Exit(rabbitmqtest.Run(&broker, func() int { return mongotest.Main(m, &mongod) }))
}

const devUser = "dev@localhost"

// stack is the web app with its publisher, reader and (optionally) a
// consumer, served on a loopback port.
type stack struct {
	db     *mongo.Database
	pub    *publish.Publisher
	reader *store.Reader
	app    *web.Server
	srv    *httptest.Server
	client *http.Client
}

type stackOptions struct {
	consumer bool
	reader   store.ReaderOptions
	dbName   string
	keepDB   bool
	// auth replaces the development user (the benchmarks spread load over
	// many users).
	auth access.Authenticator
	// peers exchanges accepted workouts with the other stacks' replicas
	// (package peers), as every web replica does in production.
	peers bool
	// profiles keeps users' settings in the store, as production does.
	profiles bool
}

func newStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	purgeQueue(t)
	client, err := store.Connect(store.Config{URI: mongod.URI(), ServerSelectionTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	name := o.dbName
	if name == "" {
		name = mongod.Database(t)
	}
	s := &stack{db: client.Database(name)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if !o.keepDB {
			if err := s.db.Drop(ctx); err != nil {
				t.Logf("drop %s: %v", name, err)
			}
		}
		if err := client.Disconnect(ctx); err != nil {
			t.Logf("disconnect: %v", err)
		}
	})

	o.reader.Logger = logger
	s.reader = store.NewReader(s.db, o.reader)
	s.pub = publish.New(publish.Config{
		Dial:    amqpconn.Config{URL: broker.URL()},
		Backoff: backoff.Policy{Min: 50 * time.Millisecond, Max: time.Second},
		Logger:  logger,
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.pub.Close(ctx); err != nil {
			t.Errorf("close publisher: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !s.pub.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("publisher not ready after 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	if o.consumer {
		c, err := consumer.New(consumer.Config{
			Dial:      amqpconn.Config{URL: broker.URL()},
			Store:     store.NewWriter(s.db),
			BatchSize: 50,
			Retry:     backoff.Policy{Min: 100 * time.Millisecond, Max: time.Second},
			Logger:    logger,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("consumer: %v", err)
			}
		})
	}

	auth := o.auth
	if auth == nil {
		auth = access.Dev{User: devUser}
	}
	opts := web.Options{
		Publisher: s.pub,
		Reader:    web.StoreReader(s.reader),
		Auth:      auth,
		Dev:       true,
		Logger:    logger,
	}
	if o.profiles {
		opts.Profiles = store.NewProfiles(s.db, nil)
	}
	if o.peers {
		n, err := peers.New(peers.Config{Dial: amqpconn.Config{URL: broker.URL()}, Sink: opts.Reader, Logger: logger,
			Backoff: backoff.Policy{Min: 50 * time.Millisecond, Max: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			n.Run(ctx)
		}()
		t.Cleanup(func() {
			cancel()
			<-done
		})
		for !n.Connected() {
			if time.Now().After(deadline) {
				t.Fatal("peer announcements not connected after 30 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		opts.Peers = n
	}
	s.app, err = web.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(s.app)
	t.Cleanup(s.srv.Close)
	s.client = &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 1024},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return s
}

// purgeQueue empties the work queue so that a test starts clean (the
// package's tests share one broker).
func purgeQueue(t testing.TB) {
	t.Helper()
	conn, err := amqp.Dial(broker.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := topology.Declare(ch); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueuePurge(topology.Queue, false); err != nil {
		t.Fatal(err)
	}
}

// countIDs counts stored workouts among ids.
func countIDs(ctx context.Context, db *mongo.Database, ids []string) (int64, error) {
	return db.Collection(store.Collection).CountDocuments(ctx, bson.M{"_id": bson.M{"$in": ids}})
}
