package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// ProfileCollection holds one document per user: their settings.
const ProfileCollection = "profiles"

// Profile is what a user set up: the unit they lift in, their time zone
// and how many days a week they train.
type Profile struct {
	UserID      string       `bson:"_id" json:"-"`
	Unit        workout.Unit `bson:"unit,omitempty" json:"unit,omitempty"`
	TimeZone    string       `bson:"time_zone,omitempty" json:"time_zone,omitempty"`
	DaysPerWeek int          `bson:"days_per_week,omitempty" json:"days_per_week,omitempty"`
	// Exercises are the user's own, beside the catalogue.
	Exercises []CustomExercise `bson:"exercises,omitempty" json:"exercises,omitempty"`
	UpdatedAt time.Time        `bson:"updated_at" json:"updated_at"`
}

// CustomExercise is an exercise a user added: its key starts with
// workout.CustomPrefix.
type CustomExercise struct {
	Key       string              `bson:"key" json:"key"`
	Name      string              `bson:"name" json:"name"`
	Group     workout.MuscleGroup `bson:"group" json:"group"`
	Equipment workout.Equipment   `bson:"equipment" json:"equipment"`
	// Timed: sets count seconds.
	Timed bool `bson:"timed,omitempty" json:"timed,omitempty"`
}

// Exercise is c as a catalogue entry; its load may be zero (bodyweight).
func (c CustomExercise) Exercise() workout.Exercise {
	bodyweight := c.Equipment == workout.BodyWeight || c.Timed
	ex := workout.Exercise{Key: c.Key, Name: c.Name, Group: c.Group, Equipment: c.Equipment,
		Bodyweight: bodyweight, Timed: c.Timed}
	if !bodyweight {
		ex.IncrementKg = workout.IncrementKg(c.Equipment)
	}
	return ex
}

// Known is the catalogue with the profile's own exercises.
func (p Profile) Known() workout.Exercises {
	own := make([]workout.Exercise, 0, len(p.Exercises))
	for _, c := range p.Exercises {
		own = append(own, c.Exercise())
	}
	return workout.WithCustom(own...)
}

// Profiles reads and writes profiles, keeping them in memory: a page needs
// its user's profile on every request, and a profile changes rarely. A
// profile saved on another replica shows here within ProfileTTL.
type Profiles struct {
	coll *mongo.Collection
	now  func() time.Time

	mu    sync.Mutex
	cache map[string]cachedProfile
}

// ProfileTTL is how long a profile read from the database is used.
const ProfileTTL = 30 * time.Second

// profileRetry spaces the reads of a profile the database failed to answer.
const profileRetry = 5 * time.Second

// maxCachedProfiles bounds the cache; it is cleared when full.
const maxCachedProfiles = 10_000

type cachedProfile struct {
	p    Profile
	read time.Time
}

// NewProfiles uses db's profiles collection (write concern majority).
func NewProfiles(db *mongo.Database, now func() time.Time) *Profiles {
	if now == nil {
		now = time.Now
	}
	return &Profiles{
		coll:  db.Collection(ProfileCollection, options.Collection().SetWriteConcern(WriteConcern())),
		now:   now,
		cache: map[string]cachedProfile{},
	}
}

// Get returns userID's profile (zero but for UserID when they have none).
// When the database fails within ctx, the last known profile is returned
// with the error.
func (ps *Profiles) Get(ctx context.Context, userID string) (Profile, error) {
	ps.mu.Lock()
	c, ok := ps.cache[userID]
	ps.mu.Unlock()
	if ok && ps.now().Sub(c.read) < ProfileTTL {
		return c.p, nil
	}
	var p Profile
	err := ps.coll.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&p)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		p = Profile{UserID: userID}
	case err != nil:
		if !ok {
			c.p = Profile{UserID: userID}
		}
		// Serve the last known profile for profileRetry before asking the
		// database again: pages read the profile several times each.
		ps.mu.Lock()
		ps.cache[userID] = cachedProfile{p: c.p, read: ps.now().Add(profileRetry - ProfileTTL)}
		ps.mu.Unlock()
		return c.p, fmt.Errorf("read profile of %s: %w", userID, err)
	}
	ps.remember(p)
	return p, nil
}

// Save replaces p.UserID's profile.
func (ps *Profiles) Save(ctx context.Context, p Profile) error {
	p.UpdatedAt = ps.now().UTC().Truncate(time.Millisecond)
	_, err := ps.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: p.UserID}}, p, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("save profile of %s: %w", p.UserID, err)
	}
	ps.remember(p)
	return nil
}

func (ps *Profiles) remember(p Profile) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.cache) >= maxCachedProfiles {
		clear(ps.cache)
	}
	ps.cache[p.UserID] = cachedProfile{p: p, read: ps.now()}
}
