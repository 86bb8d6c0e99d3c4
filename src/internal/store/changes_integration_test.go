package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// A workout's create, edit, delete and undo reach the consumer in any
// order, some twice, some in one batch: the stored copy is always the
// highest version.
func TestInsertBatchKeepsHighestVersion(t *testing.T) {
	ctx := context.Background()
	db := database(t)
	w := store.NewWriter(db)
	base := time.Date(2026, 1, 1, 7, 0, 0, 0, time.UTC)
	created := sample("ana", 0, base)
	edited := created
	edited.Sets = []workout.Set{{Reps: 3, Weight: 120}}
	edited.Version = 1_000
	deleted := edited
	deleted.Deleted, deleted.Version = true, 2_000
	undone := edited
	undone.Version = 3_000
	events := []workout.Workout{created, edited, deleted, undone}

	orders := [][]int{
		{0, 1, 2, 3},
		{3, 2, 1, 0},
		{2, 0, 3, 1},
		{1, 3, 0, 2, 1, 0}, // replays after the newest
	}
	for n, order := range orders {
		for _, batched := range []bool{false, true} {
			t.Run(fmt.Sprintf("order%d/batched=%v", n, batched), func(t *testing.T) {
				id := fmt.Sprintf("%08x-0000-4000-8000-%012x", n, map[bool]int{false: 1, true: 2}[batched])
				var batch []workout.Workout
				for _, i := range order {
					e := events[i]
					e.ID = id
					batch = append(batch, e)
				}
				if batched {
					if _, err := w.InsertBatch(ctx, batch); err != nil {
						t.Fatal(err)
					}
				} else {
					for _, e := range batch {
						if _, err := w.InsertBatch(ctx, []workout.Workout{e}); err != nil {
							t.Fatal(err)
						}
					}
				}
				var got workout.Workout
				if err := db.Collection(store.Collection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&got); err != nil {
					t.Fatal(err)
				}
				if got.Version != undone.Version || got.Deleted || got.Sets[0].Reps != 3 {
					t.Errorf("stored version %d deleted=%v sets %+v; want the undo (version %d, 3 reps)", got.Version, got.Deleted, got.Sets, undone.Version)
				}
			})
		}
	}

	t.Run("delete overtakes create", func(t *testing.T) {
		c := sample("ana", 1, base)
		d := c
		d.Deleted, d.Version = true, 5_000
		res, err := w.InsertBatch(ctx, []workout.Workout{d})
		if err != nil || res.Inserted != 1 {
			t.Fatalf("delete: %+v, %v", res, err)
		}
		res, err = w.InsertBatch(ctx, []workout.Workout{c})
		if err != nil || res.Duplicates != 1 {
			t.Fatalf("late create: %+v, %v; want a duplicate", res, err)
		}
		var got workout.Workout
		if err := db.Collection(store.Collection).FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}}).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Deleted {
			t.Errorf("the late create undid the delete: %+v", got)
		}
	})

	t.Run("another user's change", func(t *testing.T) {
		c := sample("ana", 2, base)
		if _, err := w.InsertBatch(ctx, []workout.Workout{c}); err != nil {
			t.Fatal(err)
		}
		forged := c
		forged.UserID, forged.Deleted, forged.Version = "bob", true, 9_000
		res, err := w.InsertBatch(ctx, []workout.Workout{forged})
		if err != nil || res.Duplicates != 1 {
			t.Fatalf("%+v, %v; want a duplicate", res, err)
		}
		var got workout.Workout
		if err := db.Collection(store.Collection).FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}}).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got.UserID != "ana" || got.Deleted {
			t.Errorf("another user's change applied: %+v", got)
		}
	})
}
