package store

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Server error codes the writer tells apart.
const (
	codeDuplicateKey          = 11000
	codeBadValue              = 2
	codeDocumentValidation    = 121
	codeBSONObjectTooLarge    = 10334
	codeTypeMismatch          = 14
	codeInvalidBSON           = 22
	codeKeyTooLong            = 17280
	codeCannotIndexParallel   = 171
	codeDollarPrefixedInvalid = 52
)

// permanent reports whether a per-document write error will fail again on
// retry, so that the message must be dead-lettered rather than retried.
func permanent(code int) bool {
	switch code {
	case codeBadValue, codeDocumentValidation, codeBSONObjectTooLarge, codeTypeMismatch,
		codeInvalidBSON, codeKeyTooLong, codeCannotIndexParallel, codeDollarPrefixedInvalid:
		return true
	}
	return false
}

// Result says what happened to each document of a batch.
type Result struct {
	// Inserted were written now; Duplicates were already stored (a
	// redelivery, or a change the store holds a newer version of): both
	// are persisted.
	Inserted, Duplicates int
	// Rejected maps the index of a document the database refused for good
	// to the reason.
	Rejected map[int]error
}

// Writer inserts workouts idempotently.
type Writer struct {
	coll *mongo.Collection
}

// NewWriter writes into db's workouts collection with write concern
// majority + journal.
func NewWriter(db *mongo.Database) *Writer {
	return &Writer{coll: db.Collection(Collection, options.Collection().SetWriteConcern(WriteConcern()))}
}

// InsertBatch writes ws: workouts as first logged (version 0) are inserted
// unordered in one round trip, changes (edits, deletes, undos) replace the
// stored copy in a second one when their version is higher. A nil error
// means every document is persisted (written, or already there in this or a
// newer version) except those in Result.Rejected. A non-nil error means the
// outcome is unknown for some documents: retry the whole batch, versions
// make that safe.
func (w *Writer) InsertBatch(ctx context.Context, ws []workout.Workout) (Result, error) {
	var created, changed []int
	for i := range ws {
		if ws[i].Version == 0 {
			created = append(created, i)
		} else {
			changed = append(changed, i)
		}
	}
	if len(changed) == 0 {
		return w.insert(ctx, ws)
	}
	res := Result{}
	if len(created) > 0 {
		sub := make([]workout.Workout, len(created))
		for k, i := range created {
			sub[k] = ws[i]
		}
		r, err := w.insert(ctx, sub)
		if err != nil {
			return Result{}, err
		}
		res.add(r, created)
	}
	r, err := w.replace(ctx, ws, changed)
	if err != nil {
		return Result{}, err
	}
	res.add(r, changed)
	return res, nil
}

// add merges r, whose indexes point into index, into res.
func (res *Result) add(r Result, index []int) {
	res.Inserted += r.Inserted
	res.Duplicates += r.Duplicates
	for k, err := range r.Rejected {
		if res.Rejected == nil {
			res.Rejected = map[int]error{}
		}
		res.Rejected[index[k]] = err
	}
}

func (w *Writer) insert(ctx context.Context, ws []workout.Workout) (Result, error) {
	if len(ws) == 0 {
		return Result{}, nil
	}
	docs := make([]any, len(ws))
	for i := range ws {
		docs[i] = ws[i]
	}
	_, err := w.coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return Result{Inserted: len(ws)}, nil
	}
	return classify(len(ws), err)
}

// replace upserts the changes ws[i] for i in changed, each only over an
// older version of the same user's workout. When the stored copy is as new
// or newer (a replay, or a change that overtook this one) the filter
// matches nothing and the upsert's insert fails on the _id: a duplicate,
// as for a redelivered insert. A change arriving before its workout's
// first version is stored as it is, and that first version then finds it.
func (w *Writer) replace(ctx context.Context, ws []workout.Workout, changed []int) (Result, error) {
	models := make([]mongo.WriteModel, len(changed))
	for k, i := range changed {
		c := ws[i]
		filter := bson.D{
			{Key: "_id", Value: c.ID},
			{Key: "user_id", Value: c.UserID},
			{Key: "$or", Value: bson.A{
				bson.D{{Key: "version", Value: bson.D{{Key: "$exists", Value: false}}}},
				bson.D{{Key: "version", Value: bson.D{{Key: "$lt", Value: c.Version}}}},
			}},
		}
		models[k] = mongo.NewReplaceOneModel().SetFilter(filter).SetReplacement(c).SetUpsert(true)
	}
	_, err := w.coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if err == nil {
		return Result{Inserted: len(changed)}, nil
	}
	return classify(len(changed), err)
}

// classify turns an InsertMany error into a Result, or an error when a
// retry is needed.
func classify(n int, err error) (Result, error) {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) {
		return Result{}, fmt.Errorf("insert %d workouts: %w", n, err)
	}
	if bwe.WriteConcernError != nil {
		return Result{}, fmt.Errorf("insert %d workouts: write concern not satisfied: %w", n, err)
	}
	res := Result{}
	for _, we := range bwe.WriteErrors {
		switch {
		case we.Code == codeDuplicateKey:
			res.Duplicates++
		case permanent(we.Code) && we.Index >= 0 && we.Index < n:
			if res.Rejected == nil {
				res.Rejected = map[int]error{}
			}
			res.Rejected[we.Index] = fmt.Errorf("database refused the workout (code %d): %s", we.Code, we.Message)
		default:
			return Result{}, fmt.Errorf("insert %d workouts: document %d: %w", n, we.Index, err)
		}
	}
	res.Inserted = n - res.Duplicates - len(res.Rejected)
	return res, nil
}
