package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/homelab-gitops/homelab/src/internal/bench"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

func init() { register("reads", readsStage) }

// readsStage measures a user's history reads (about 600 workouts among
// e.n): what one query costs on the store, and what store.Reader answers
// with its per-user view kept fresh in the background.
func readsStage(ctx context.Context, e *env) error {
	client, db, err := connect(e, "fitbench_reads")
	if err != nil {
		return err
	}
	defer client.Disconnect(context.Background())
	if e.readDB != "" {
		db = client.Database(e.readDB)
	} else {
		if err := db.Drop(ctx); err != nil {
			return err
		}
		if err := store.EnsureIndexes(ctx, db); err != nil {
			return err
		}
		if _, err := bench.RawInsert(ctx, db, store.Collection, bench.Workouts(e.n, e.end), 1000); err != nil {
			return err
		}
	}
	coll := db.Collection(store.Collection)
	total, err := coll.EstimatedDocumentCount(ctx)
	if err != nil {
		return err
	}
	user := bench.Users(e.n)[0]
	mine, err := coll.CountDocuments(ctx, bson.D{{Key: "user_id", Value: user}})
	if err != nil {
		return err
	}
	fmt.Printf("data: %d workouts, %d of them for %s\n", total, mine, user)

	queries := []struct {
		name string
		run  func(context.Context) (int, error)
	}{
		{"find by user (what Reader loads)", func(ctx context.Context) (int, error) {
			return find(ctx, coll, bson.D{{Key: "user_id", Value: user}}, options.Find())
		}},
		{"last 200 by date (sorted in the store)", func(ctx context.Context) (int, error) {
			return find(ctx, coll, bson.D{{Key: "user_id", Value: user}},
				options.Find().SetSort(bson.D{{Key: "performed_at", Value: -1}}).SetLimit(200))
		}},
	}
	for _, q := range queries {
		var ds []time.Duration
		var n int
		for range 3 {
			t := time.Now()
			if n, err = q.run(ctx); err != nil {
				return err
			}
			ds = append(ds, time.Since(t))
		}
		fmt.Printf("one query, %s: %d docs, median of 3 %v\n", q.name, n, bench.Percentile(ds, 50).Round(time.Millisecond))
	}

	// A shared machine may take longer than the production deadline (20 s)
	// to scan the collection: the bench measures the load, it does not
	// enforce it.
	opts := store.ReaderOptions{LoadTimeout: 3 * time.Minute}
	r := store.NewReader(db, opts)
	t := time.Now()
	if err := r.Warm(ctx, user); err != nil {
		return err
	}
	fmt.Printf("store.Reader cold load of %s: %v\n", user, time.Since(t).Round(time.Millisecond))

	// Warm reads from 8 goroutines for e.duration: the view is refreshed in
	// the background every 5 s meanwhile, as in production.
	kinds := []store.Query{
		{Limit: 200},
		{Exercise: "back-squat", From: e.end.AddDate(0, -6, 0)},
		{Limit: -1}, // the plan's whole history
	}
	var mu sync.Mutex
	var lat []time.Duration
	stale := 0
	var wg sync.WaitGroup
	deadline := time.Now().Add(e.duration)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			localStale := 0
			for i := g; time.Now().Before(deadline); i++ {
				rctx, cancel := context.WithTimeout(ctx, time.Second)
				t := time.Now()
				v, err := r.History(rctx, user, kinds[i%len(kinds)])
				local = append(local, time.Since(t))
				cancel()
				if err != nil || v.Stale {
					localStale++
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			stale += localStale
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Printf("store.Reader History for a %d-workout user among %d, 8 goroutines for %v: %d reads, p50 %v, p99 %v, max %v, stale %d\n",
		mine, total, e.duration, len(lat), bench.Percentile(lat, 50).Round(time.Microsecond),
		bench.Percentile(lat, 99).Round(time.Microsecond), bench.Percentile(lat, 100).Round(time.Microsecond), stale)
	return restartStage(ctx, db, r, opts, user, mine)
}

// restartStage measures what a user sees first after the web app
// restarts: the reader before it leaves a snapshot of the user's history
// (written as it shuts down), and the new one answers from it while its
// full load, a scan on the embedded store, runs.
func restartStage(ctx context.Context, db *mongo.Database, before *store.Reader, opts store.ReaderOptions, user string, mine int64) error {
	if err := before.Flush(ctx); err != nil {
		return err
	}
	r := store.NewReader(db, opts)
	t := time.Now()
	v, err := r.History(ctx, user, store.Query{})
	if err != nil {
		return err
	}
	first := time.Since(t)
	all, err := r.History(ctx, user, store.Query{Limit: -1})
	if err != nil {
		return err
	}
	fmt.Printf("first page after a restart, %d workouts stored for the user: %v, %d workouts shown (the plan's whole history: %d of %d), stale %v; without the snapshot it waits for the cold load above\n",
		mine, first.Round(time.Millisecond), len(v.Workouts), len(all.Workouts), mine, v.Stale)
	if int64(len(all.Workouts)) != mine {
		fmt.Printf("NOTE: the first page after the restart did not show the whole history (%d of %d): the snapshot was not read within the reader's wait (400 ms)\n", len(all.Workouts), mine)
	}
	return nil
}

func find(ctx context.Context, coll *mongo.Collection, filter bson.D, opts *options.FindOptionsBuilder) (int, error) {
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		return 0, err
	}
	var out []workout.Workout
	if err := cur.All(ctx, &out); err != nil {
		return 0, err
	}
	return len(out), nil
}
