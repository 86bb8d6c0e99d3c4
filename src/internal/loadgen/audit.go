package loadgen

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
func AuditStore(ctx context.Context, coll *mongo.Collection, res Result, within time.Duration) (Audit, error) {
	accepted := res.AcceptedIDs()
	start := time.Now()
	deadline := start.Add(within)
	for {
		n, err := countIn(ctx, coll, accepted)
		if err == nil && n >= len(accepted) {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return Audit{}, fmt.Errorf("audit: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	a := Audit{Stored: map[string]bool{}, Extra: map[string]int{}, Accepted: len(accepted), Settled: time.Since(start)}
	all := make([]string, len(res.Answers))
	for i, ans := range res.Answers {
		all[i] = ans.ID
	}
	for chunk := range slices.Chunk(all, 2000) {
		cur, err := coll.Aggregate(ctx, mongo.Pipeline{
			{{Key: "$match", Value: bson.M{"_id": bson.M{"$in": chunk}}}},
			{{Key: "$group", Value: bson.M{"_id": "$_id", "n": bson.M{"$sum": 1}}}},
		})
		if err != nil {
			return Audit{}, fmt.Errorf("audit: read stored workouts: %w", err)
		}
		var rows []struct {
			ID string `bson:"_id"`
			N  int    `bson:"n"`
		}
		if err := cur.All(ctx, &rows); err != nil {
			return Audit{}, fmt.Errorf("audit: read stored workouts: %w", err)
		}
		for _, r := range rows {
			a.Stored[r.ID] = true
			if r.N > 1 {
				a.Extra[r.ID] += r.N - 1
			}
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

func countIn(ctx context.Context, coll *mongo.Collection, ids []string) (int, error) {
	total := 0
	for chunk := range slices.Chunk(ids, 2000) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		n, err := coll.CountDocuments(cctx, bson.M{"_id": bson.M{"$in": chunk}}, options.Count())
		cancel()
		if err != nil {
			return 0, err
		}
		total += int(n)
	}
	return total, nil
}
