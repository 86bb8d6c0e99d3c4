package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

type acceptAll struct{}

func (acceptAll) InsertBatch(_ context.Context, ws []workout.Workout) (store.Result, error) {
	return store.Result{Inserted: len(ws)}, nil
}

func TestWaitCount(t *testing.T) {
	ctx := context.Background()
	ws := Workouts(3, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	rec := NewRecorder(acceptAll{})
	if _, err := rec.InsertBatch(ctx, ws[:2]); err != nil {
		t.Fatal(err)
	}
	// The third never comes: WaitCount must give up, not hang.
	_, err := rec.WaitCount(ctx, 3, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "2 of 3 workouts persisted") {
		t.Fatalf("WaitCount with a stalled drain: err %v", err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = rec.InsertBatch(ctx, ws[2:])
	}()
	last, err := rec.WaitCount(ctx, 3, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := rec.Persisted(ws[2].ID); !ok || !at.Equal(last) {
		t.Fatalf("last persisted at %v, want the third workout's time %v", last, at)
	}
}
