package web

import (
	"context"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// StoreReader adapts the store's Reader to the web app's Reader.
func StoreReader(r *store.Reader) Reader { return storeReader{r} }

type storeReader struct{ r *store.Reader }

// History maps a zero Limit (the whole history, as the plan and the charts
// need) to the store's negative Limit.
func (s storeReader) History(ctx context.Context, userID string, q HistoryQuery) (History, error) {
	limit := q.Limit
	if limit == 0 {
		limit = -1
	}
	v, err := s.r.History(ctx, userID, store.Query{Exercise: q.Exercise, From: q.From, To: q.To, Limit: limit, Deleted: q.Deleted})
	if err != nil {
		return History{}, err
	}
	return History{Workouts: v.Workouts, Stale: v.Stale, AsOf: v.AsOf, Pending: v.Pending}, nil
}

func (s storeReader) Remember(w workout.Workout) { s.r.Remember(w) }
