package web

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// fakePublisher records confirmed workouts; err makes every publish fail;
// stall makes every publish wait for a confirm that never comes, until ctx
// ends or the timeout passes, as the real publisher does.
type fakePublisher struct {
	mu        sync.Mutex
	published []workout.Workout
	err       error
	notReady  bool
	stall     bool
	// timeouts are the bounds the server gave, one per publish.
	timeouts []time.Duration
}

func (p *fakePublisher) PublishWithin(ctx context.Context, w workout.Workout, timeout time.Duration) error {
	p.mu.Lock()
	p.timeouts = append(p.timeouts, timeout)
	stall := p.stall
	p.mu.Unlock()
	if stall {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(timeout):
			return context.DeadlineExceeded
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.published = append(p.published, w)
	return nil
}

func (p *fakePublisher) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.notReady
}

func (p *fakePublisher) all() []workout.Workout {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]workout.Workout(nil), p.published...)
}

var errBrokerDown = errors.New("publish: broker unavailable")

// fakeReader serves history from memory, filtered like the real store.
type fakeReader struct {
	mu      sync.Mutex
	byUser  map[string][]workout.Workout
	ids     map[string]bool
	stale   bool
	asOf    time.Time
	queries []HistoryQuery
	// pending holds what Remember added, as the store's reader marks it.
	pending map[string]bool
}

func newFakeReader(ws ...workout.Workout) *fakeReader {
	r := &fakeReader{byUser: map[string][]workout.Workout{}, ids: map[string]bool{}, pending: map[string]bool{}}
	for _, w := range ws {
		r.add(w)
	}
	return r
}

func (r *fakeReader) History(ctx context.Context, userID string, q HistoryQuery) (History, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, q)
	var out []workout.Workout
	for _, w := range r.byUser[userID] {
		if w.Deleted != q.Deleted {
			continue
		}
		if q.Exercise != "" && w.Exercise != q.Exercise {
			continue
		}
		if !q.From.IsZero() && w.PerformedAt.Before(q.From) {
			continue
		}
		if !q.To.IsZero() && !w.PerformedAt.Before(q.To) {
			continue
		}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PerformedAt.After(out[j].PerformedAt) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	h := History{Workouts: out, Stale: r.stale, AsOf: r.asOf, Pending: map[string]bool{}}
	for _, w := range out {
		if r.pending[w.ID] {
			h.Pending[w.ID] = true
		}
	}
	return h, nil
}

func (r *fakeReader) Remember(w workout.Workout) {
	r.mu.Lock()
	r.pending[w.ID] = true
	r.mu.Unlock()
	r.add(w)
}

// add makes w part of the stored history; a newer version replaces the
// stored one, as the consumer's writer does.
func (r *fakeReader) add(w workout.Workout) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids[w.ID] {
		ws := r.byUser[w.UserID]
		for i := range ws {
			if ws[i].ID == w.ID && ws[i].Version < w.Version {
				ws[i] = w
			}
		}
		return
	}
	r.ids[w.ID] = true
	r.byUser[w.UserID] = append(r.byUser[w.UserID], w)
}

func (r *fakeReader) lastQuery() HistoryQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queries[len(r.queries)-1]
}
