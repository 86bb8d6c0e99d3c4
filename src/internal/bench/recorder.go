package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Inserter is what the consumer writes through (consumer.Store).
type Inserter interface {
	InsertBatch(ctx context.Context, ws []workout.Workout) (store.Result, error)
}

// Recorder wraps the consumer's store and records when each workout was
// persisted (the moment its batch write was acknowledged), for
// POST-to-persisted latencies and for knowing when a queue is drained.
type Recorder struct {
	Next Inserter

	mu   sync.Mutex
	at   map[string]time.Time
	cond *sync.Cond
}

// NewRecorder wraps next.
func NewRecorder(next Inserter) *Recorder {
	r := &Recorder{Next: next, at: map[string]time.Time{}}
	r.cond = sync.NewCond(&r.mu)
	return r
}

// InsertBatch writes through and records the persisted time of each
// workout written or found already stored.
func (r *Recorder) InsertBatch(ctx context.Context, ws []workout.Workout) (store.Result, error) {
	res, err := r.Next.InsertBatch(ctx, ws)
	if err != nil {
		return res, err
	}
	now := time.Now()
	r.mu.Lock()
	for i, w := range ws {
		if _, rejected := res.Rejected[i]; rejected {
			continue
		}
		if _, seen := r.at[w.ID]; !seen {
			r.at[w.ID] = now
		}
	}
	r.cond.Broadcast()
	r.mu.Unlock()
	return res, nil
}

// Persisted returns when id was persisted.
func (r *Recorder) Persisted(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.at[id]
	return t, ok
}

// Count is the number of distinct workouts persisted.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.at)
}

// WaitCount blocks until n workouts are persisted and returns the time the
// n-th was. It gives up when ctx ends or when no workout was persisted for
// stall (messages dead-lettered or lost would otherwise keep it waiting).
func (r *Recorder) WaitCount(ctx context.Context, n int, stall time.Duration) (time.Time, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	// A watchdog wakes the waiter each stall period to check progress.
	go func() {
		t := time.NewTicker(stall)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.mu.Lock()
				r.cond.Broadcast()
				r.mu.Unlock()
			}
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	seen, since := len(r.at), time.Now()
	for len(r.at) < n {
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		if len(r.at) != seen {
			seen, since = len(r.at), time.Now()
		} else if time.Since(since) >= stall {
			return time.Time{}, fmt.Errorf("%d of %d workouts persisted, none in the last %v (dead-lettered or not delivered?)", seen, n, stall)
		}
		r.cond.Wait()
	}
	var last time.Time
	for _, t := range r.at {
		if t.After(last) {
			last = t
		}
	}
	return last, nil
}
