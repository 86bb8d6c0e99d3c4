package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// SnapshotCollection keeps, per user, a copy of the history a Reader last
// loaded, under _id = the user's id. The embedded store finds a document
// quickly only by _id and scans the whole collection for any other filter
// (about 7 s for 100,000 workouts), so after a restart a user's first page
// is answered from this copy while the full load runs. On MongoDB, where
// the user index makes the full load fast, the copy costs one write per
// changed history per load and is rarely read first.
const SnapshotCollection = "history_snapshots"

// Snapshot is a user's history as the database held it at AsOf: live and
// deleted workouts (Deleted set) together.
type Snapshot struct {
	AsOf     time.Time
	Workouts []workout.Workout
}

// Snapshots reads and writes history snapshots. The database
// implementation is NewReader's default; tests substitute their own.
type Snapshots interface {
	// LoadSnapshot returns the user's snapshot; found is false when there
	// is none.
	LoadSnapshot(ctx context.Context, userID string) (s Snapshot, found bool, err error)
	SaveSnapshot(ctx context.Context, userID string, s Snapshot) error
}

type snapshotDoc struct {
	UserID   string            `bson:"_id"`
	AsOf     time.Time         `bson:"as_of"`
	Workouts []workout.Workout `bson:"workouts"`
}

type dbSnapshots struct{ coll *mongo.Collection }

// NewSnapshots keeps snapshots in db's SnapshotCollection. Writes use the
// database's default write concern: a lost snapshot only costs the next
// restart a slower first page.
func NewSnapshots(db *mongo.Database) Snapshots {
	return dbSnapshots{coll: db.Collection(SnapshotCollection, options.Collection().SetReadPreference(ReadPreference()))}
}

func (s dbSnapshots) LoadSnapshot(ctx context.Context, userID string) (Snapshot, bool, error) {
	var doc snapshotDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Snapshot{}, false, nil
	}
	if err != nil {
		return Snapshot{}, false, fmt.Errorf("read history snapshot of %s: %w", userID, err)
	}
	return Snapshot{AsOf: doc.AsOf, Workouts: doc.Workouts}, true, nil
}

func (s dbSnapshots) SaveSnapshot(ctx context.Context, userID string, snap Snapshot) error {
	doc := snapshotDoc{UserID: userID, AsOf: snap.AsOf.UTC(), Workouts: snap.Workouts}
	if doc.Workouts == nil {
		doc.Workouts = []workout.Workout{}
	}
	_, err := s.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: userID}}, doc, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("save history snapshot of %s (%d workouts): %w", userID, len(doc.Workouts), err)
	}
	return nil
}

// contentHash identifies a loaded history by its workouts' ids, versions
// and marks, whatever order the database returned them in; equal hashes
// mean the snapshot need not be written again.
func contentHash(ws []workout.Workout) uint64 {
	var sum uint64
	h := fnv.New64a()
	var buf []byte
	for _, w := range ws {
		h.Reset()
		buf = append(buf[:0], w.ID...)
		buf = strconv.AppendInt(append(buf, '/'), w.Version, 10)
		buf = strconv.AppendBool(append(buf, '/'), w.Deleted)
		h.Write(buf)
		// Addition keeps the hash independent of order; the count makes
		// an empty history differ from none.
		sum += h.Sum64()
	}
	return sum + uint64(len(ws))
}

// snapshotOf bounds a loaded history to what a view keeps: the newest
// MaxPerUser live and deleted workouts.
func snapshotOf(ws []workout.Workout, asOf time.Time) Snapshot {
	ws = slices.Clone(ws)
	slices.SortFunc(ws, newestFirst)
	var live, deleted int
	kept := ws[:0]
	for _, w := range ws {
		n := &live
		if w.Deleted {
			n = &deleted
		}
		if *n < MaxPerUser {
			*n++
			kept = append(kept, w)
		}
	}
	return Snapshot{AsOf: asOf, Workouts: kept}
}
