package e2e

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/homelab-gitops/homelab/src/internal/loadgen"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/consumerfleet"
	"github.com/homelab-gitops/homelab/src/internal/topology"
)

var (
	consumerFaultFor = flag.Duration("consumer-fault-duration", 15*time.Second,
		"how long TestConsumersKilledWhileTheStoreRestarts kills consumers and restarts the store")
	consumerFaultSeed = flag.Uint64("consumer-fault-seed", 0, "seed of that test's fault schedule (0: from the clock; printed)")
)

// TestConsumersKilledWhileTheStoreRestarts runs the web app under an
// open-loop load of 500 POST/s with three consumer processes, and for
// -consumer-fault-duration kills a random consumer every 0.3 to 1.5 s
// (half of them with SIGKILL at a random moment, half armed to die right
// after their next batch write, before its ack) while the embedded store
// is stopped for 2 to 5 s and started again, over and over. The schedule is
// seeded (printed; -consumer-fault-seed replays it).
//
// Invariant: every POST answered 202 is stored exactly once; every other
// answer is 503 with Retry-After (none are expected here: the broker takes
// workouts whatever the consumers and the store do); nothing is stuck at
// the end: the queue drains and three consumers consume it.
func TestConsumersKilledWhileTheStoreRestarts(t *testing.T) {
	if !mongod.Embedded() {
		t.Skip("MONGODB_URI points at an external server; this test stops the database")
	}
	if *consumerFaultFor < 6*time.Second {
		t.Fatalf("-consumer-fault-duration %s: at least 6s, so that the store is down at least once", *consumerFaultFor)
	}
	const baseline, recovery = 4 * time.Second, 6 * time.Second
	seed := *consumerFaultSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	fmt.Printf("consumer fault schedule: seed %d, faults for %s (-consumer-fault-seed=%d replays it)\n", seed, *consumerFaultFor, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>32|1))

	s := newStack(t, stackOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), *consumerFaultFor+5*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fleet, err := consumerfleet.Start(ctx, consumerfleet.Config{
		AMQP: []string{broker.URL()}, MongoURI: mongod.URI(), Database: s.db.Name(), Replicas: 3, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Stop()
	waitConsumers(t, 3, time.Minute)

	load := loadgen.Start(ctx, loadgen.Config{URL: s.srv.URL, Rate: 500, Client: s.client})
	time.Sleep(baseline)

	faultAt := time.Now()
	var wg sync.WaitGroup
	var outages int
	var storeDown time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The store flaps: up 1 to 4 s, down 2 to 5 s (less if the faults
		// end sooner), until the faults end.
		for {
			time.Sleep(time.Second + rng.N(3*time.Second))
			down := min(2*time.Second+rng.N(3*time.Second), *consumerFaultFor-time.Since(faultAt))
			if down < time.Second {
				return
			}
			if err := mongod.Stop(); err != nil {
				t.Errorf("stop store: %v", err)
				return
			}
			outages++
			storeDown += down
			time.Sleep(down)
			sctx, scancel := context.WithTimeout(ctx, time.Minute)
			err := mongod.Start(sctx)
			scancel()
			if err != nil {
				t.Errorf("start store: %v", err)
				return
			}
		}
	}()
	// The kills are drawn from their own generator, so that the store's
	// goroutine and this loop never share one.
	kills := rand.New(rand.NewPCG(seed+1, seed>>32|3))
	for time.Since(faultAt) < *consumerFaultFor {
		time.Sleep(300*time.Millisecond + kills.N(1200*time.Millisecond))
		i := kills.IntN(fleet.Replicas())
		var err error
		if kills.IntN(2) == 0 {
			err = fleet.Kill(i)
		} else {
			err = fleet.KillAfterWrite(i)
		}
		if err != nil {
			t.Logf("fault skipped: %v", err) // that consumer is down already
		}
	}
	wg.Wait()
	faultEnd := time.Now()
	drained := make(chan time.Time, 1)
	go func() { drained <- waitDrained(t, 3, recovery+time.Minute) }()
	time.Sleep(recovery)
	res := load.Stop()

	// The collection holds this load's workouts only: count them cheaply
	// until there are enough, then audit every id once (on the embedded
	// store each query by id scans the collection).
	coll := s.db.Collection(store.Collection)
	settle, want := time.Now(), int64(len(res.AcceptedIDs()))
	for time.Since(settle) < 2*time.Minute {
		n, err := coll.EstimatedDocumentCount(ctx)
		if err == nil && n >= want {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	storedIn := time.Since(settle)
	audit, err := loadgen.AuditStore(ctx, coll, res, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	drainedAt := <-drained
	row := res.Summarize("consumers killed + store restarts", res.Start, faultAt, res.End, audit)
	if err := loadgen.WriteTable(os.Stdout, []loadgen.Summary{row}); err != nil {
		t.Fatal(err)
	}
	st := fleet.Stats()
	fmt.Printf("faults: %d consumers killed at random, %d armed to die after a write (%d did, between write and ack), %d consumer starts; store stopped %d times for %s in all\n",
		st.Kills, st.Armed, st.ArmedDeaths, st.Starts, outages, storeDown.Round(time.Second))
	fmt.Printf("after the faults ended: no message waiting and 3 consumers %s after the faults ended; every 202 stored %s after the load stopped; %d workouts answered otherwise were stored anyway\n",
		drainedAt.Sub(faultEnd).Round(100*time.Millisecond), (storedIn + audit.Settled).Round(100*time.Millisecond), audit.StoredUnconfirmed)

	if err := audit.Check(); err != nil {
		t.Error(err)
	}
	if row.Violations > 0 {
		t.Errorf("%d answers broke the contract (first: %s)", row.Violations, row.FirstViolation)
	}
	if row.Skipped > 0 {
		t.Errorf("%d requests not sent: the web app stalled", row.Skipped)
	}
	if st.ArmedDeaths == 0 || st.Kills == 0 || outages == 0 {
		t.Errorf("the schedule did not exercise every fault: %+v, %d store outages", st, outages)
	}
}

// queueState reads the work queue's ready messages and consumers.
func queueState(t *testing.T) (amqp.Queue, error) {
	t.Helper()
	conn, err := amqp.Dial(broker.URL())
	if err != nil {
		return amqp.Queue{}, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return amqp.Queue{}, err
	}
	defer ch.Close()
	return ch.QueueDeclarePassive(topology.Queue, true, false, false, false, nil)
}

// waitConsumers waits until n consumers consume the work queue.
func waitConsumers(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		q, err := queueState(t)
		if err == nil && q.Consumers == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d consumers after %s, want %d (last error: %v)", q.Consumers, within, n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitDrained waits until the work queue has no message waiting and n
// consumers on it, and returns when that was seen (zero when it was not:
// the test has failed then).
func waitDrained(t *testing.T, n int, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		q, err := queueState(t)
		if err == nil && q.Messages == 0 && q.Consumers == n {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Errorf("stuck: %d messages ready and %d consumers %s after the faults (last error: %v)", q.Messages, q.Consumers, within, err)
			return time.Time{}
		}
		time.Sleep(100 * time.Millisecond)
	}
}
