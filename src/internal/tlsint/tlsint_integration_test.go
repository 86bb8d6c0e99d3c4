package tlsint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/homelab-gitops/homelab/internal/tlstest"
	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/consumer"
	"github.com/homelab-gitops/homelab/src/internal/publish"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/maintest"
	"github.com/homelab-gitops/homelab/src/internal/testenv/mongotest"
	"github.com/homelab-gitops/homelab/src/internal/testenv/rabbitmqtest"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Both servers trust ca and require a client certificate it signed; certs
// are the CA, server and client files they were started with.
var (
	broker *rabbitmqtest.Broker
	mongod *mongotest.Server
	ca     *tlstest.CA
	certs  tlstest.Files
)

func TestMain(m *testing.M) { os.Exit(withServers(m)) }

func withServers(m *testing.M) int {
	var remove func()
	var err error
	if ca, certs, remove, err = tlstest.TempFiles("tlsint test CA"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer remove()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b, stopBroker, err := rabbitmqtest.StartTLS(ctx, certs.Dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopBroker()
	s, stopMongo, err := mongotest.StartTLS(ctx, mongotest.TLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, CAFile: certs.CA})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopMongo()
	broker, mongod = b, s
	return m.Run()
}

// amqpTLS is the services' amqps configuration with the test's files.
func amqpTLS() amqpconn.Config {
	return amqpconn.Config{URL: broker.TLSURL(), CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}
}

func mongoTLS() store.Config {
	return store.Config{URI: mongod.URI(), TLSCAFile: certs.CA, TLSCertKeyFile: certs.ClientCertKey}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func database(t *testing.T) *mongo.Database {
	t.Helper()
	client, err := store.Connect(mongoTLS())
	if err != nil {
		t.Fatal(err)
	}
	return mongod.TestDatabase(t, client)
}

func newWorkout() workout.Workout {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return workout.Workout{
		ID: uuid.NewString(), UserID: "tls@example.com", Exercise: "back-squat",
		PerformedAt: now.Add(-time.Hour), Unit: workout.Kilograms,
		Sets: []workout.Set{{Reps: 5, Weight: 100}}, LoggedAt: now,
	}
}

// TestWorkoutOverTLS follows one workout from the web app's publisher,
// through amqps, to the consumer and into the database over mutual TLS.
func TestWorkoutOverTLS(t *testing.T) {
	db := database(t)
	var logs maintest.LogBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	c, err := consumer.New(consumer.Config{
		Dial: amqpTLS(), Store: store.NewWriter(db), BatchWait: 20 * time.Millisecond, Logger: logs.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("consumer: %v", err)
		}
	}()

	p := publish.New(publish.Config{Dial: amqpTLS(), Logger: logs.Logger()})
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if err := p.Close(cctx); err != nil {
			t.Errorf("close publisher: %v", err)
		}
	}()
	waitFor(t, "publisher and consumer connected over amqps", 30*time.Second, func() bool { return p.Ready() && c.Ready() })

	w := newWorkout()
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	if err := p.Publish(pctx, w); err != nil {
		t.Fatalf("publish over amqps: %v", err)
	}
	coll := db.Collection(store.Collection)
	waitFor(t, "the workout in the database", 30*time.Second, func() bool {
		n, err := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: w.ID}})
		return err == nil && n == 1
	})
	var got workout.Workout
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: w.ID}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.UserID != w.UserID || got.Exercise != w.Exercise || !got.PerformedAt.Equal(w.PerformedAt) {
		t.Fatalf("stored %+v, want %+v", got, w)
	}
	if t.Failed() {
		t.Logf("logs:\n%s", logs.String())
	}
}

// TestRefusedTLSIsNeverReportedAsSuccess: with a CA that does not trust the
// broker, without a client certificate or with an expired one, the publisher
// confirms nothing, the consumer never becomes ready, and both log why.
//
// The consumer dials through amqpconn.Dial, whose errors name the setting
// and carry the broker's TLS alert. The publisher has a dial of its own
// (src/internal/publish/dial.go) that leaves TLS to amqp091, which reports
// a refused client certificate (TLS 1.3 refuses it after the handshake) as
// whatever it met first: the alert, a reset or "connection is not open";
// for it only a failed connect is required.
func TestRefusedTLSIsNeverReportedAsSuccess(t *testing.T) {
	refused, err := ca.WriteRefused(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	other, expiredCert, expiredKey := refused.Other, refused.ExpiredCert, refused.ExpiredKey
	const connectFailed = "connect to rabbitmq failed"
	tests := []struct {
		name          string
		dial          amqpconn.Config
		wantPublisher string
		wantConsumer  string
	}{
		{
			name:          "broker not trusted",
			dial:          amqpconn.Config{URL: broker.TLSURL(), CAFile: other.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey},
			wantPublisher: "x509: certificate signed by unknown authority",
			wantConsumer:  "broker certificate is not trusted by the ca file " + other.CA + " (AMQP_CA_FILE)",
		},
		{
			name:          "no client certificate",
			dial:          amqpconn.Config{URL: broker.TLSURL(), CAFile: certs.CA},
			wantPublisher: connectFailed,
			wantConsumer:  "it may require a client certificate (AMQP_CERT_FILE, AMQP_KEY_FILE): remote error: tls: certificate required",
		},
		{
			name:          "expired client certificate",
			dial:          amqpconn.Config{URL: broker.TLSURL(), CAFile: certs.CA, CertFile: expiredCert, KeyFile: expiredKey},
			wantPublisher: connectFailed,
			wantConsumer:  "broker refused the client certificate " + expiredCert + " (AMQP_CERT_FILE): remote error: tls: expired certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Run("publisher", func(t *testing.T) {
				var logs maintest.LogBuffer
				p := publish.New(publish.Config{Dial: tt.dial, Logger: logs.Logger()})
				defer func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := p.Close(ctx); err != nil {
						t.Errorf("close publisher: %v", err)
					}
				}()
				defer func() {
					if t.Failed() {
						t.Logf("logs:\n%s", logs.String())
					}
				}()
				waitFor(t, "the refusal in the publisher's log", 20*time.Second, func() bool {
					return strings.Contains(logs.String(), tt.wantPublisher)
				})
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				err := p.Publish(ctx, newWorkout())
				if !errors.Is(err, publish.ErrUnavailable) {
					t.Fatalf("publish = %v, want ErrUnavailable", err)
				}
				if p.Ready() {
					t.Error("publisher reports ready")
				}
			})
			t.Run("consumer", func(t *testing.T) {
				var logs maintest.LogBuffer
				c, err := consumer.New(consumer.Config{Dial: tt.dial, Store: store.NewWriter(database(t)), Logger: logs.Logger()})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				runErr := make(chan error, 1)
				go func() { runErr <- c.Run(ctx) }()
				defer func() {
					if t.Failed() {
						t.Logf("logs:\n%s", logs.String())
					}
				}()
				waitFor(t, "the refusal in the consumer's log", 20*time.Second, func() bool {
					return strings.Contains(logs.String(), tt.wantConsumer)
				})
				ready := c.Ready()
				cancel()
				if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("consumer: %v", err)
				}
				if ready {
					t.Error("consumer reports ready")
				}
			})
		})
	}
}
