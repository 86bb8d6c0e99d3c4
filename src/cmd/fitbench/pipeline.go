package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/bench"
	"github.com/homelab-gitops/homelab/src/internal/consumer"
	"github.com/homelab-gitops/homelab/src/internal/publish"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

func init() {
	register("publisher", publisherStage)
	register("consumer", consumerStage)
	register("latency", latencyStage)
}

func connect(e *env, name string) (*mongo.Client, *mongo.Database, error) {
	client, err := store.Connect(store.Config{URI: e.servers.MongoURI, AppName: "fitbench"})
	if err != nil {
		return nil, nil, err
	}
	return client, client.Database(name), nil
}

func newPublisher(ctx context.Context, e *env) (*publish.Publisher, error) {
	p := publish.New(publish.Config{Dial: amqpconn.Config{URL: e.servers.AMQPURL}, Window: e.window})
	for !p.Ready() {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p, nil
}

// publishAll publishes ws through p from e.goroutines goroutines.
func publishAll(ctx context.Context, e *env, p *publish.Publisher, ws []workout.Workout) (bench.Rate, error) {
	jobs := make(chan workout.Workout)
	errs := make(chan error, e.goroutines)
	var wg sync.WaitGroup
	start := time.Now()
	for range e.goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range jobs {
				if err := p.Publish(ctx, w); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
loop:
	for _, w := range ws {
		select {
		case jobs <- w:
		case err = <-errs:
			break loop
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return bench.Rate{N: len(ws), Elapsed: time.Since(start)}, err
}

// publisherStage compares package publish (what the web app calls) with the
// raw confirmed-publish limit, with the same goroutines and window.
func publisherStage(ctx context.Context, e *env) error {
	n := min(e.n, 30_000)
	ws := bench.Workouts(n, e.end)
	msgs, err := bench.Messages(ws)
	if err != nil {
		return err
	}
	if err := bench.Purge(e.servers.AMQPURL); err != nil {
		return err
	}
	raw, err := bench.RawPublish(ctx, e.servers.AMQPURL, msgs, e.goroutines, e.window)
	if err != nil {
		return err
	}
	fmt.Printf("raw publish (amqp091-go, %d goroutines, window %d, persistent, quorum queue): %v\n", e.goroutines, e.window, raw)
	if err := bench.Purge(e.servers.AMQPURL); err != nil {
		return err
	}
	// A caller that must answer only after its own confirm (a POST) keeps
	// one message in flight: this is the limit for that shape of load.
	sync1, err := bench.RawPublish(ctx, e.servers.AMQPURL, msgs, e.goroutines, e.goroutines)
	if err != nil {
		return err
	}
	fmt.Printf("raw publish, each goroutine waiting for its own confirm: %v\n", sync1)
	if err := bench.Purge(e.servers.AMQPURL); err != nil {
		return err
	}
	p, err := newPublisher(ctx, e)
	if err != nil {
		return err
	}
	defer p.Close(context.Background())
	got, err := publishAll(ctx, e, p, ws)
	if err != nil {
		return err
	}
	fmt.Printf("publish.Publisher (%d goroutines, window %d): %v\n", e.goroutines, e.window, got)
	fmt.Printf("publisher ratio: %.2f (vs the window of %d), %.2f (vs one confirm in flight per goroutine)\n", bench.Ratio(got, raw), e.window, bench.Ratio(got, sync1))
	return bench.Purge(e.servers.AMQPURL)
}

// runConsumers starts replicas consumers dialling dial and writing
// through rec until ctx ends.
func runConsumers(ctx context.Context, e *env, dial amqpconn.Config, rec *bench.Recorder, replicas int) (wait func(), err error) {
	var wg sync.WaitGroup
	for range replicas {
		// Warnings (reconnects, held batches) explain a stalled figure.
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		c, err := consumer.New(consumer.Config{Dial: dial, Store: rec, BatchSize: e.batch, Logger: log})
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Run(ctx); err != nil {
				fmt.Println("consumer:", err)
			}
		}()
	}
	return wg.Wait, nil
}

// consumerStage drains a pre-filled queue of e.n workouts and compares the
// persisted throughput with InsertMany of the same documents.
func consumerStage(ctx context.Context, e *env) error {
	e.readDB = "fitbench_consumer"
	ratio, err := persist(ctx, e, e.servers.AMQPURL, amqpconn.Config{URL: e.servers.AMQPURL}, e.readDB)
	if err != nil {
		return err
	}
	fmt.Printf("persist ratio: %.2f\n", ratio)
	return nil
}

// persist measures InsertMany of e.n workouts into the store, then fills
// the work queue through fillURL with the same workouts and drains it with
// e.replicas consumers dialling dial into database dbName, and returns the
// persisted throughput over InsertMany's.
func persist(ctx context.Context, e *env, fillURL string, dial amqpconn.Config, dbName string) (float64, error) {
	ws := bench.Workouts(e.n, e.end)
	msgs, err := bench.Messages(ws)
	if err != nil {
		return 0, err
	}
	client, rawDB, err := connect(e, "fitbench_raw")
	if err != nil {
		return 0, err
	}
	defer client.Disconnect(context.Background())
	if err := rawDB.Drop(ctx); err != nil {
		return 0, err
	}
	// The same collection as the consumer writes to: same indexes.
	if err := store.EnsureIndexes(ctx, rawDB); err != nil {
		return 0, err
	}
	raw, err := bench.RawInsert(ctx, rawDB, store.Collection, ws, 1000)
	if err != nil {
		return 0, err
	}
	fmt.Printf("raw insert (InsertMany of 1000, unordered, majority+journal): %v\n", raw)
	if err := rawDB.Drop(ctx); err != nil {
		return 0, err
	}

	if err := bench.Purge(fillURL); err != nil {
		return 0, err
	}
	fill, err := bench.RawPublish(ctx, fillURL, msgs, e.goroutines, e.window)
	if err != nil {
		return 0, err
	}
	fmt.Printf("queue pre-filled with %d workouts: %v\n", len(msgs), fill)

	db := client.Database(dbName)
	if err := db.Drop(ctx); err != nil {
		return 0, err
	}
	if err := store.EnsureIndexes(ctx, db); err != nil {
		return 0, err
	}
	rec := bench.NewRecorder(store.NewWriter(db))
	cctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	wait, err := runConsumers(cctx, e, dial, rec, e.replicas)
	if err != nil {
		cancel()
		return 0, err
	}
	last, err := rec.WaitCount(ctx, len(ws), time.Minute)
	cancel()
	wait()
	if err != nil {
		return 0, err
	}
	got := bench.Rate{N: len(ws), Elapsed: last.Sub(start)}
	batch := e.batch
	if batch == 0 {
		batch = consumer.DefaultBatchSize
	}
	fmt.Printf("consumer (%d replica(s), batch %d) drained and persisted: %v\n", e.replicas, batch, got)
	return bench.Ratio(got, raw), nil
}

// latencyStage publishes at a fixed rate through package publish while 3
// consumers run, and reports publish latency (the broker's confirm) and
// publish-to-persisted latency.
func latencyStage(ctx context.Context, e *env) error {
	if err := bench.Purge(e.servers.AMQPURL); err != nil {
		return err
	}
	client, db, err := connect(e, "fitbench_latency")
	if err != nil {
		return err
	}
	defer client.Disconnect(context.Background())
	if err := db.Drop(ctx); err != nil {
		return err
	}
	rec := bench.NewRecorder(store.NewWriter(db))
	cctx, cancel := context.WithCancel(ctx)
	wait, err := runConsumers(cctx, e, amqpconn.Config{URL: e.servers.AMQPURL}, rec, 3)
	if err != nil {
		cancel()
		return err
	}
	defer func() {
		cancel()
		wait()
	}()
	p, err := newPublisher(ctx, e)
	if err != nil {
		return err
	}
	defer p.Close(context.Background())

	total := int(e.duration.Seconds() * float64(e.rate))
	ws := bench.Workouts(total, e.end)
	starts := make([]time.Time, len(ws))
	confirms := make([]time.Duration, len(ws))
	errs := make([]error, len(ws))
	interval := time.Second / time.Duration(e.rate)
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range ws {
		// Open loop: each request starts on schedule, whatever the others do.
		if d := time.Until(begin.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			starts[i] = time.Now()
			errs[i] = p.Publish(ctx, ws[i])
			confirms[i] = time.Since(starts[i])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if _, err := rec.WaitCount(wctx, len(ws), time.Minute); err != nil {
		return fmt.Errorf("wait for persistence: %w", err)
	}
	persisted := make([]time.Duration, len(ws))
	for i, w := range ws {
		at, _ := rec.Persisted(w.ID)
		persisted[i] = at.Sub(starts[i])
	}
	fmt.Printf("publish at %d/s for %v (%d workouts, 3 consumers): confirm p50 %v, p99 %v\n", e.rate, e.duration, len(ws),
		bench.Percentile(confirms, 50).Round(10*time.Microsecond), bench.Percentile(confirms, 99).Round(10*time.Microsecond))
	fmt.Printf("publish-to-persisted p50 %v, p99 %v\n",
		bench.Percentile(persisted, 50).Round(100*time.Microsecond), bench.Percentile(persisted, 99).Round(100*time.Microsecond))
	return nil
}
