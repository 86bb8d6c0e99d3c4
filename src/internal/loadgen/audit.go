package loadgen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Audit is what the store holds of a load's workouts.
type Audit struct {
	// Stored has every id of the load found in the store.
	Stored map[string]bool
	// Extra counts the documents beyond the first for an id (the store
	// keys workouts by id, so any is a broken invariant).
	Extra map[string]int
	// Accepted, StoredAccepted, Lost and Duplicates are totals over the
	// 202s; StoredUnconfirmed counts workouts answered 503 (or not at
	// all) that were stored anyway, which is allowed: the broker may keep
	// a message whose confirm the web app never saw.
	Accepted, StoredAccepted, Lost, Duplicates, StoredUnconfirmed int
	// Settled is how long the store took, from the audit's start, to hold
	// every accepted workout (or the wait bound when it never did).
	Settled time.Duration
}

// AuditStore waits up to within for coll to hold every workout of res
// answered 202, then counts what it holds of every workout res sent.
//
// It reads every id in coll, once per look: the embedded store scans the
// whole collection for any query, and a scan of ids is cheaper than
// matching a long $in list against each document.
func AuditStore(ctx context.Context, coll *mongo.Collection, res Result, within time.Duration) (Audit, error) {
	accepted := res.AcceptedIDs()
	start := time.Now()
	deadline := start.Add(within)
	var counts map[string]int
	for {
		var err error
		counts, err = storedIDs(ctx, coll)
		if err == nil && allIn(accepted, counts) || time.Now().After(deadline) {
			if err != nil {
				return Audit{}, err
			}
			break
		}
		select {
		case <-ctx.Done():
			return Audit{}, fmt.Errorf("audit: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	a := Audit{Stored: map[string]bool{}, Extra: map[string]int{}, Accepted: len(accepted), Settled: time.Since(start)}
	for _, ans := range res.Answers {
		n := counts[ans.ID]
		if n == 0 {
			continue
		}
		a.Stored[ans.ID] = true
		if n > 1 {
			a.Extra[ans.ID] = n - 1
		}
	}
	isAccepted := map[string]bool{}
	for _, id := range accepted {
		isAccepted[id] = true
		if a.Stored[id] {
			a.StoredAccepted++
		} else {
			a.Lost++
		}
		a.Duplicates += a.Extra[id]
	}
	for id := range a.Stored {
		if !isAccepted[id] {
			a.StoredUnconfirmed++
		}
	}
	return a, nil
}

// storedIDs counts the documents of each id in coll.
func storedIDs(ctx context.Context, coll *mongo.Collection) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cur, err := coll.Find(ctx, bson.M{}, options.Find().SetProjection(bson.M{"_id": 1}))
	if err != nil {
		return nil, fmt.Errorf("audit: read stored ids: %w", err)
	}
	defer cur.Close(ctx)
	counts := map[string]int{}
	for cur.Next(ctx) {
		id, ok := cur.Current.Lookup("_id").StringValueOK()
		if !ok {
			continue
		}
		counts[id]++
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("audit: read stored ids: %w", err)
	}
	return counts, nil
}

func allIn(ids []string, counts map[string]int) bool {
	for _, id := range ids {
		if counts[id] == 0 {
			return false
		}
	}
	return true
}

// Check reports a broken invariant: a lost or duplicated 202.
func (a Audit) Check() error {
	var errs []error
	if a.Lost > 0 {
		errs = append(errs, fmt.Errorf("%d of %d workouts answered 202 are not stored", a.Lost, a.Accepted))
	}
	if a.Duplicates > 0 {
		errs = append(errs, fmt.Errorf("%d duplicate documents of workouts answered 202", a.Duplicates))
	}
	return errors.Join(errs...)
}
