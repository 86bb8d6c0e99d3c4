package store_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/mongotest"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

var server *mongotest.Server

func TestMain(m *testing.M) { os.Exit(mongotest.Main(m, &server)) }

func database(t *testing.T) *mongo.Database {
	t.Helper()
	client, err := store.Connect(store.Config{URI: server.URI()})
	if err != nil {
		t.Fatal(err)
	}
	return server.TestDatabase(t, client)
}

func sample(user string, i int, at time.Time) workout.Workout {
	return workout.Workout{
		ID:          uuid.NewString(),
		UserID:      user,
		Exercise:    []string{"back-squat", "bench-press", "deadlift"}[i%3],
		PerformedAt: at.Add(time.Duration(i) * 24 * time.Hour).UTC().Truncate(time.Millisecond),
		Unit:        workout.Kilograms,
		Sets:        []workout.Set{{Reps: 5, Weight: 100 + float64(i)}},
		LoggedAt:    at.Add(time.Duration(i)*24*time.Hour + time.Hour).UTC().Truncate(time.Millisecond),
	}
}

func count(t *testing.T, db *mongo.Database, filter any) int64 {
	t.Helper()
	n, err := db.Collection(store.Collection).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Every consumer replica ensures the indexes at start, so the call must be
// idempotent on the embedded server too (FerretDB drops the connection when
// createIndexes names an existing index).
func TestEnsureIndexesTwice(t *testing.T) {
	ctx := context.Background()
	db := database(t)
	for i := range 2 {
		if err := store.EnsureIndexes(ctx, db); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	specs, err := db.Collection(store.Collection).Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range specs {
		names[s.Name] = true
	}
	for _, want := range []string{"user_performed", "user_exercise_performed"} {
		if !names[want] {
			t.Errorf("index %s missing; have %v", want, names)
		}
	}
}

func TestInsertBatchIsIdempotent(t *testing.T) {
	ctx := context.Background()
	db := database(t)
	if err := store.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	w := store.NewWriter(db)
	base := time.Date(2026, 1, 1, 7, 0, 0, 0, time.UTC)
	var first []workout.Workout
	for i := range 10 {
		first = append(first, sample("ana", i, base))
	}
	res, err := w.InsertBatch(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 10 || res.Duplicates != 0 {
		t.Fatalf("first batch: %+v", res)
	}
	// A redelivery of half of them mixed with new ones, and a duplicate
	// inside the batch itself.
	second := append([]workout.Workout{}, first[:5]...)
	for i := 10; i < 15; i++ {
		second = append(second, sample("ana", i, base))
	}
	second = append(second, second[len(second)-1])
	res, err = w.InsertBatch(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 5 || res.Duplicates != 6 || len(res.Rejected) != 0 {
		t.Fatalf("second batch: %+v, want 5 inserted, 6 duplicates", res)
	}
	if n := count(t, db, bson.D{}); n != 15 {
		t.Fatalf("stored %d workouts, want 15", n)
	}
	var got workout.Workout
	if err := db.Collection(store.Collection).FindOne(ctx, bson.D{{Key: "_id", Value: first[3].ID}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.UserID != "ana" || !got.PerformedAt.Equal(first[3].PerformedAt) || got.Sets[0].Weight != first[3].Sets[0].Weight {
		t.Errorf("stored %+v, want %+v", got, first[3])
	}
}

func TestInsertBatchFailsWhileDatabaseIsDown(t *testing.T) {
	if !server.Embedded() {
		t.Skip("needs the embedded server to stop it")
	}
	db := database(t)
	w := store.NewWriter(db)
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := w.InsertBatch(ctx, []workout.Workout{sample("bo", 1, time.Now().AddDate(0, -1, 0))})
	cancel()
	if startErr := server.Start(context.Background()); startErr != nil {
		t.Fatal(startErr)
	}
	if err == nil {
		t.Fatal("InsertBatch succeeded with the database down")
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := w.InsertBatch(ctx, []workout.Workout{sample("bo", 2, time.Now().AddDate(0, -1, 0))}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestReaderHistory(t *testing.T) {
	ctx := context.Background()
	db := database(t)
	w := store.NewWriter(db)
	base := time.Date(2025, 1, 1, 7, 0, 0, 0, time.UTC)
	var ws []workout.Workout
	for i := range 60 {
		ws = append(ws, sample("cy", i, base))
	}
	for i := range 20 {
		ws = append(ws, sample("dee", i, base))
	}
	if _, err := w.InsertBatch(ctx, ws); err != nil {
		t.Fatal(err)
	}
	r := store.NewReader(db, store.ReaderOptions{})
	if err := r.Warm(ctx, "cy"); err != nil {
		t.Fatal(err)
	}
	v, err := r.History(ctx, "cy", store.Query{Exercise: "deadlift", From: base.AddDate(0, 0, 10), To: base.AddDate(0, 0, 40), Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if v.Stale || v.AsOf.IsZero() {
		t.Errorf("fresh view reported stale=%v asOf=%v", v.Stale, v.AsOf)
	}
	var got []string
	for _, x := range v.Workouts {
		got = append(got, fmt.Sprintf("%s %s", x.Exercise, x.PerformedAt.Format("01-02")))
	}
	// deadlift is every third day from day 2: days 38, 35, 32, 29, 26.
	want := []string{"deadlift 02-08", "deadlift 02-05", "deadlift 02-02", "deadlift 01-30", "deadlift 01-27"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history = %v, want %v", got, want)
	}
	all, err := r.History(ctx, "cy", store.Query{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Workouts) != 60 {
		t.Errorf("full history has %d workouts, want 60", len(all.Workouts))
	}
	for _, x := range all.Workouts {
		if x.UserID != "cy" {
			t.Fatalf("history of cy holds a workout of %s", x.UserID)
		}
	}
}

func TestReaderServesStaleViewWhileDatabaseIsDown(t *testing.T) {
	if !server.Embedded() {
		t.Skip("needs the embedded server to stop it")
	}
	ctx := context.Background()
	db := database(t)
	base := time.Date(2025, 6, 1, 7, 0, 0, 0, time.UTC)
	if _, err := store.NewWriter(db).InsertBatch(ctx, []workout.Workout{sample("eve", 0, base), sample("eve", 1, base)}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clock := func() time.Time { return now }
	r := store.NewReader(db, store.ReaderOptions{Now: func() time.Time { return clock() }, RefreshAfter: time.Second, StaleAfter: 5 * time.Second})
	if err := r.Warm(ctx, "eve"); err != nil {
		t.Fatal(err)
	}
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := server.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}()
	later := now.Add(time.Minute)
	clock = func() time.Time { return later }
	for i := range 3 {
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		v, err := r.History(rctx, "eve", store.Query{})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("request %d took %v with the database down", i, took)
		}
		if !v.Stale || len(v.Workouts) != 2 || !v.AsOf.Equal(now) {
			t.Errorf("request %d: stale=%v workouts=%d asOf=%v, want the last known view marked stale", i, v.Stale, len(v.Workouts), v.AsOf)
		}
	}
}

// A reader leaves its users' snapshots in the database; they read back
// as loaded (times, sets, deletions), and an unchanged history is not
// written again.
func TestSnapshotsRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := database(t)
	base := time.Date(2025, 3, 1, 7, 0, 0, 0, time.UTC)
	ws := []workout.Workout{sample("fay", 0, base), sample("fay", 1, base), sample("fay", 2, base)}
	ws[1].Version, ws[1].Deleted = 7, true
	if _, err := store.NewWriter(db).InsertBatch(ctx, ws); err != nil {
		t.Fatal(err)
	}
	r := store.NewReader(db, store.ReaderOptions{})
	if err := r.Warm(ctx, "fay"); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	snap, found, err := store.NewSnapshots(db).LoadSnapshot(ctx, "fay")
	if err != nil || !found {
		t.Fatalf("snapshot: found=%v err=%v", found, err)
	}
	if len(snap.Workouts) != 3 || snap.AsOf.IsZero() {
		t.Fatalf("snapshot holds %d workouts as of %v, want 3", len(snap.Workouts), snap.AsOf)
	}
	byID := map[string]workout.Workout{}
	for _, w := range snap.Workouts {
		byID[w.ID] = w
	}
	for _, w := range ws {
		got := byID[w.ID]
		if !got.PerformedAt.Equal(w.PerformedAt) || got.Deleted != w.Deleted || got.Version != w.Version || fmt.Sprint(got.Sets) != fmt.Sprint(w.Sets) {
			t.Errorf("snapshot of %s = %+v, want %+v", w.ID, got, w)
		}
	}
	if _, found, _ := store.NewSnapshots(db).LoadSnapshot(ctx, "nobody"); found {
		t.Error("a snapshot for a user who never loaded")
	}

	// A restarted reader answers from the snapshot (or the load: both
	// hold the same), keeping the deleted workout apart.
	r2 := store.NewReader(db, store.ReaderOptions{})
	live, err := r2.History(ctx, "fay", store.Query{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(live.Workouts) != 2 {
		t.Errorf("after a restart: %d live workouts, want 2", len(live.Workouts))
	}
}
