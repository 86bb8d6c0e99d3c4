// Package records finds a lifter's personal records in their history, and
// the workouts that broke one.
//
// For a loaded exercise the records are the best estimated one-rep max
// (Epley, from sets of at most MaxRepsForE1RM reps, where the estimate
// holds) and the heaviest set at each rep count up to MaxRepCount; for a
// bodyweight exercise the most reps in a set and the heaviest added load
// at each rep count; for a timed one the longest hold. Loads are compared
// in kilograms, so a history that mixes units compares fairly. A record is
// broken when a workout beats the best of every earlier workout of the
// exercise by more than a rounding difference; an exercise's first workout
// sets records without breaking any.
package records

import (
	"cmp"
	"slices"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/plan"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Kind names what a record measures.
type Kind string

const (
	// E1RM is the best estimated one-rep max, in kilograms.
	E1RM Kind = "e1rm"
	// Heaviest is the heaviest load (added load for a bodyweight exercise)
	// lifted for Reps reps, in kilograms.
	Heaviest Kind = "heaviest"
	// MostReps is the most reps in one set of a bodyweight exercise.
	MostReps Kind = "most-reps"
	// LongestHold is the longest set of a timed exercise, in seconds.
	LongestHold Kind = "longest-hold"
)

const (
	// MaxRepCount bounds the rep counts with a heaviest-set record.
	MaxRepCount = 12
	// MaxRepsForE1RM: sets of more reps estimate a one-rep max poorly.
	MaxRepsForE1RM = 10
	// toleranceKg: a load within it is the same load (unit conversions,
	// plate rounding), not a record.
	toleranceKg = 0.1
)

// Record is one personal best and the workout that set it.
type Record struct {
	Exercise string `json:"exercise"`
	Kind     Kind   `json:"kind"`
	// Reps is the rep count of a Heaviest record (0 otherwise).
	Reps int `json:"reps,omitempty"`
	// Value is kilograms (E1RM, Heaviest), reps or seconds.
	Value float64 `json:"value"`
	// Set is the set as logged, in Unit.
	Set         workout.Set  `json:"set"`
	Unit        workout.Unit `json:"unit"`
	WorkoutID   string       `json:"workout_id"`
	PerformedAt time.Time    `json:"performed_at"`
	// Previous is the value this record beat (0 for an exercise's first).
	Previous float64 `json:"previous,omitempty"`
}

// Loaded reports whether Value is kilograms.
func (r Record) Loaded() bool { return r.Kind == E1RM || r.Kind == Heaviest }

// Result is a history's records.
type Result struct {
	// Best holds the current records, by exercise key then kind and reps.
	Best []Record
	// Broken maps a workout id to the records it broke, as they stood
	// then (a later workout may have beaten them since).
	Broken map[string][]Record
}

type key struct {
	exercise string
	kind     Kind
	reps     int
}

// Find computes the records of history (any order) for the exercises exs
// knows (the catalogue and the user's own).
func Find(history []workout.Workout, exs workout.Exercises) Result {
	ws := append([]workout.Workout(nil), history...)
	slices.SortFunc(ws, func(a, b workout.Workout) int {
		if c := a.PerformedAt.Compare(b.PerformedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	best := map[key]Record{}
	res := Result{Broken: map[string][]Record{}}
	for _, w := range ws {
		ex, ok := exs.Lookup(w.Exercise)
		if !ok {
			continue
		}
		for _, c := range candidates(ex, w) {
			k := key{c.Exercise, c.Kind, c.Reps}
			old, had := best[k]
			if had && c.Value <= old.Value+tolerance(c.Kind) {
				continue
			}
			if had {
				c.Previous = old.Value
				res.Broken[w.ID] = append(res.Broken[w.ID], c)
			}
			best[k] = c
		}
	}
	for _, r := range best {
		res.Best = append(res.Best, r)
	}
	slices.SortFunc(res.Best, func(a, b Record) int {
		return cmp.Or(cmp.Compare(a.Exercise, b.Exercise), cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)), cmp.Compare(a.Reps, b.Reps))
	})
	return res
}

func tolerance(k Kind) float64 {
	if k == E1RM || k == Heaviest {
		return toleranceKg
	}
	return 0
}

func kindOrder(k Kind) int {
	return slices.Index([]Kind{E1RM, LongestHold, MostReps, Heaviest}, k)
}

// candidates are the best values one workout reaches, one per record key.
func candidates(ex workout.Exercise, w workout.Workout) []Record {
	top := map[key]Record{}
	offer := func(r Record) {
		k := key{r.Exercise, r.Kind, r.Reps}
		if old, ok := top[k]; !ok || r.Value > old.Value {
			top[k] = r
		}
	}
	for _, s := range w.Sets {
		base := Record{Exercise: ex.Key, Set: s, Unit: w.Unit, WorkoutID: w.ID, PerformedAt: w.PerformedAt}
		kg := w.WeightKg(s)
		switch {
		case ex.Timed:
			r := base
			r.Kind, r.Value = LongestHold, float64(s.Reps)
			offer(r)
		case ex.Bodyweight:
			r := base
			r.Kind, r.Value = MostReps, float64(s.Reps)
			offer(r)
			if kg > 0 && s.Reps <= MaxRepCount {
				r := base
				r.Kind, r.Reps, r.Value = Heaviest, s.Reps, kg
				offer(r)
			}
		default:
			if s.Reps <= MaxRepsForE1RM {
				r := base
				r.Kind, r.Value = E1RM, plan.E1RM(kg, s.Reps)
				offer(r)
			}
			if s.Reps <= MaxRepCount {
				r := base
				r.Kind, r.Reps, r.Value = Heaviest, s.Reps, kg
				offer(r)
			}
		}
	}
	out := make([]Record, 0, len(top))
	for _, r := range top {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Record) int {
		return cmp.Or(cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)), cmp.Compare(a.Reps, b.Reps))
	})
	return out
}
