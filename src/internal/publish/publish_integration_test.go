package publish_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/backoff"
	"github.com/homelab-gitops/homelab/src/internal/publish"
	"github.com/homelab-gitops/homelab/src/internal/testenv/rabbitmqtest"
	"github.com/homelab-gitops/homelab/src/internal/topology"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

var broker *rabbitmqtest.Broker

func TestMain(m *testing.M) { os.Exit(rabbitmqtest.Main(m, &broker)) }

func newPublisher(t *testing.T) *publish.Publisher { return newPublisherWith(t, 0) }

// newPublisherWith opens a publisher with that many channels (0: the
// default).
func newPublisherWith(t *testing.T, channels int) *publish.Publisher {
	t.Helper()
	p := publish.New(publish.Config{
		Dial:     amqpconn.Config{URL: broker.URL()},
		Channels: channels,
		Backoff:  backoff.Policy{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond},
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	waitReady(t, p)
	return p
}

func waitReady(t *testing.T, p *publish.Publisher) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !p.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("publisher not ready after 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// admin opens a channel for inspecting and changing the broker, and purges
// the work queue so that each test starts empty.
func admin(t *testing.T) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(broker.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := topology.Declare(ch); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueuePurge(topology.Queue, false); err != nil {
		t.Fatal(err)
	}
	return ch
}

func queued(t *testing.T, ch *amqp.Channel) int {
	t.Helper()
	q, err := ch.QueueDeclarePassive(topology.Queue, true, false, false, false, topology.QueueArgs())
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages
}

func sample() workout.Workout {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return workout.Workout{
		ID: uuid.NewString(), UserID: "ana@example.com", Exercise: "back-squat",
		PerformedAt: now.Add(-time.Hour), Unit: workout.Kilograms,
		Sets: []workout.Set{{Reps: 5, Weight: 100}}, LoggedAt: now,
	}
}

func TestPublishIsConfirmedAndQueued(t *testing.T) {
	ch := admin(t)
	p := newPublisher(t)
	w := sample()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Publish(ctx, w); err != nil {
		t.Fatal(err)
	}
	d, ok, err := ch.Get(topology.Queue, false)
	if err != nil || !ok {
		t.Fatalf("get: ok=%v err=%v", ok, err)
	}
	if err := d.Ack(false); err != nil {
		t.Fatal(err)
	}
	if d.MessageId != w.ID || d.ContentType != "application/json" || d.DeliveryMode != amqp.Persistent {
		t.Errorf("message id=%q type=%q mode=%d", d.MessageId, d.ContentType, d.DeliveryMode)
	}
	got, err := workout.DecodeBytes(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != w.ID || !got.PerformedAt.Equal(w.PerformedAt) {
		t.Errorf("body = %+v, want %+v", got, w)
	}
}

func TestConcurrentPublishersShareTheConfirmWindow(t *testing.T) {
	for _, channels := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d channels", channels), func(t *testing.T) {
			ch := admin(t)
			p := newPublisherWith(t, channels)
			const n, workers = 3000, 64
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var wg sync.WaitGroup
			errs := make(chan error, n)
			jobs := make(chan workout.Workout)
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for w := range jobs {
						errs <- p.Publish(ctx, w)
					}
				}()
			}
			for range n {
				jobs <- sample()
			}
			close(jobs)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := queued(t, ch); got != n {
				t.Errorf("queue holds %d messages, want %d", got, n)
			}
		})
	}
}

func TestUnroutableMessageIsReturned(t *testing.T) {
	ch := admin(t)
	p := newPublisher(t)
	if err := ch.QueueUnbind(topology.Queue, topology.RoutingKey, topology.Exchange, nil); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := ch.QueueBind(topology.Queue, topology.RoutingKey, topology.Exchange, false, nil); err != nil {
			t.Fatal(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 20 {
		err := p.Publish(ctx, sample())
		if !errors.Is(err, publish.ErrReturned) {
			t.Fatalf("Publish = %v, want ErrReturned", err)
		}
	}
}

func TestPublishFailsFastWhileBrokerIsDownAndRecovers(t *testing.T) {
	admin(t)
	p := newPublisher(t)
	stopCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := broker.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			if err := broker.Start(stopCtx); err != nil {
				t.Error(err)
			}
		}
	}()
	// The publisher notices the lost connection.
	deadline := time.Now().Add(30 * time.Second)
	for p.Ready() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p.Ready() {
		t.Fatal("publisher still ready with the broker stopped")
	}
	ctx, cancelPub := context.WithTimeout(context.Background(), 2*time.Second)
	err := p.Publish(ctx, sample())
	cancelPub()
	if !errors.Is(err, publish.ErrUnavailable) {
		t.Fatalf("Publish with the broker down = %v, want ErrUnavailable", err)
	}
	if err := broker.Start(stopCtx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	waitReady(t, p)
	ctx, cancelPub = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelPub()
	if err := p.Publish(ctx, sample()); err != nil {
		t.Fatalf("Publish after the broker came back: %v", err)
	}
}

func TestCloseRefusesNewMessages(t *testing.T) {
	admin(t)
	p := publish.New(publish.Config{Dial: amqpconn.Config{URL: broker.URL()}})
	waitReady(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Ready() {
		t.Error("closed publisher reports ready")
	}
	if err := p.Publish(ctx, sample()); !errors.Is(err, publish.ErrUnavailable) {
		t.Errorf("Publish after Close = %v, want ErrUnavailable", err)
	}
}
