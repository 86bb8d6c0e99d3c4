package mongodump_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/homelab-gitops/homelab/src/internal/localmongo"
	"github.com/homelab-gitops/homelab/src/internal/mongodump"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// startStore starts an embedded store (FerretDB on SQLite) for the test and
// connects to it with the services' client settings.
func startStore(t *testing.T) *mongo.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := localmongo.Start(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := store.Connect(store.Config{URI: s.URI(), AppName: "mongodump-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := client.Disconnect(ctx); err != nil {
			t.Errorf("disconnect: %v", err)
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stop store: %v", err)
		}
	})
	return client
}

func workouts(n int, at time.Time) []workout.Workout {
	ws := make([]workout.Workout, n)
	for i := range ws {
		ws[i] = workout.Workout{
			ID:          uuid.NewString(),
			UserID:      fmt.Sprintf("user-%d@example.org", i%17),
			Exercise:    workout.Catalogue()[i%len(workout.Catalogue())].Key,
			PerformedAt: at.Add(-time.Duration(i) * time.Minute).Truncate(time.Millisecond),
			Unit:        workout.Kilograms,
			Sets:        []workout.Set{{Reps: 5, Weight: 100 + float64(i%40)*2.5}, {Reps: 5, Weight: 100, RPE: 8.5}},
			Notes:       "restore test",
			LoggedAt:    at.Truncate(time.Millisecond),
		}
	}
	return ws
}

func insert(ctx context.Context, w *store.Writer, ws []workout.Workout) error {
	res, err := w.InsertBatch(ctx, ws)
	if err != nil {
		return err
	}
	if len(res.Rejected) > 0 {
		return fmt.Errorf("%d workouts rejected", len(res.Rejected))
	}
	return nil
}

// TestDumpRestoreUnderLoad dumps the fitness database while writers insert
// workouts through the consumer's write path, restores the dump into a fresh
// store, and checks that the restored collection holds exactly the dumped
// documents: same count, same SHA-256 over every document in _id order.
func TestDumpRestoreUnderLoad(t *testing.T) {
	const seed, writers, batch = 5000, 2, 20
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := startStore(t)
	db := src.Database("fitness")
	if err := store.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	w := store.NewWriter(db)
	now := time.Now()
	for i := 0; i < seed; i += 1000 {
		if err := insert(ctx, w, workouts(1000, now)); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}

	// Writers keep inserting until the dump has finished.
	var written atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := insert(ctx, w, workouts(batch, time.Now())); err != nil {
					errs <- err
					return
				}
				written.Add(batch)
			}
		})
	}
	dir := t.TempDir()
	start := time.Now()
	dumped, err := mongodump.Dump(ctx, src, mongodump.DumpOptions{Dir: dir, Databases: []string{"fitness"}, Gzip: true,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	dumpTime := time.Since(start)
	duringDump := written.Load()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("writer: %v", err)
	}
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	if len(dumped) != 1 || dumped[0].Name != store.Collection {
		t.Fatalf("dumped %+v, want the workouts collection only", dumped)
	}
	if duringDump == 0 {
		t.Fatal("no workout was written during the dump: the test did not dump under load")
	}
	if dumped[0].Documents < seed || dumped[0].Documents > seed+written.Load() {
		t.Errorf("dumped %d documents, want between %d (the seed) and %d (all written)", dumped[0].Documents, seed, seed+written.Load())
	}

	dst := startStore(t)
	start = time.Now()
	restored, err := mongodump.Restore(ctx, dst, mongodump.RestoreOptions{Dir: dir, Mode: mongodump.Drop})
	restoreTime := time.Since(start)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if len(restored) != 1 {
		t.Fatalf("restored %+v, want one collection", restored)
	}
	if restored[0].Sum != dumped[0].Sum {
		t.Errorf("restored %+v, dumped %+v: want equal counts and checksums", restored[0].Sum, dumped[0].Sum)
	}
	// Checksum reads the collection again, independently of Restore.
	again, err := mongodump.Checksum(ctx, dst.Database("fitness").Collection(store.Collection))
	if err != nil {
		t.Fatal(err)
	}
	if again != dumped[0].Sum {
		t.Errorf("restored collection reads back %+v, want %+v", again, dumped[0].Sum)
	}
	specs, err := dst.Database("fitness").Collection(store.Collection).Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range specs {
		names[s.Name] = true
	}
	for _, want := range []string{"_id_", "user_performed", "user_exercise_performed"} {
		if !names[want] {
			t.Errorf("restored collection lacks index %s (has %v)", want, names)
		}
	}
	t.Logf("documents: %d dumped (%d written during the dump, %d in total), %d restored; dump %.2f s, restore %.2f s; sha256 dumped %s restored %s equal=%t",
		dumped[0].Documents, duringDump, seed+written.Load(), restored[0].Documents, dumpTime.Seconds(), restoreTime.Seconds(),
		dumped[0].SHA256, restored[0].SHA256, restored[0].Sum == dumped[0].Sum)
}
