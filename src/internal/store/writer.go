package store

import (
	"context"
	"errors"
	"fmt"

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
	// redelivery): both are persisted.
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

// InsertBatch inserts ws unordered in one round trip. A nil error means every
// document is persisted (inserted or already there) except those in
// Result.Rejected. A non-nil error means the outcome is unknown for some
// documents: retry the whole batch, duplicates make that safe.
func (w *Writer) InsertBatch(ctx context.Context, ws []workout.Workout) (Result, error) {
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
