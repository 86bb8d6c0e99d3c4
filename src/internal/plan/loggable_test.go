package plan

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// logAsPrescribed is the workout a user logs who does exactly what pr says.
func logAsPrescribed(pr Prescription, id int, at time.Time) workout.Workout {
	w := workout.Workout{
		ID:          fmt.Sprintf("00000000-0000-4000-8000-%012d", id),
		UserID:      "ana@example.com",
		Exercise:    pr.Exercise.Key,
		PerformedAt: at,
		Unit:        pr.Unit,
		LoggedAt:    at,
	}
	for range pr.Sets {
		w.Sets = append(w.Sets, workout.Set{Reps: pr.Reps, Weight: pr.Weight})
	}
	return w
}

// checkLoggable fails the test when logging pr as prescribed would be
// refused: a plan that asks for what cannot be logged asks for it forever.
func checkLoggable(t *testing.T, what string, pr Prescription, at time.Time) {
	t.Helper()
	if err := logAsPrescribed(pr, 0, at).Validate(at); err != nil {
		t.Fatalf("%s: %s %d × %d @ %v %s (%s) cannot be logged: %v",
			what, pr.Exercise.Key, pr.Sets, pr.Reps, pr.Weight, pr.Unit, pr.Kind, err)
	}
}

// randomHistory is up to 40 valid workouts over the last 120 days, with
// loads and reps anywhere in the range a user may log, in both units.
func randomHistory(rng *rand.Rand, at time.Time) []workout.Workout {
	cat := workout.Catalogue()
	var out []workout.Workout
	for i := range rng.IntN(41) {
		ex := cat[rng.IntN(len(cat))]
		w := workout.Workout{
			ID:          fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			UserID:      "ana@example.com",
			Exercise:    ex.Key,
			PerformedAt: at.AddDate(0, 0, -rng.IntN(121)).Add(-time.Duration(rng.IntN(12)) * time.Hour),
			Unit:        workout.Kilograms,
			LoggedAt:    at,
		}
		maxLoad := float64(workout.MaxWeightKg)
		if rng.IntN(3) == 0 {
			w.Unit = workout.Pounds
			maxLoad = workout.MaxWeightKg * workout.PoundsPerKilogram
		}
		for range 1 + rng.IntN(6) {
			s := workout.Set{Reps: 1 + rng.IntN(ex.RepLimit())}
			if rng.IntN(2) == 0 {
				s.Reps = 1 + rng.IntN(12)
			}
			switch {
			case ex.Bodyweight && rng.IntN(3) > 0:
			case rng.IntN(4) == 0:
				// Near the limits: tiny loads and the heaviest plausible.
				s.Weight = []float64{0.5, 1, 2.5, maxLoad - 1, maxLoad}[rng.IntN(5)]
			default:
				s.Weight = float64(1+rng.IntN(int(maxLoad/2.5))) * 2.5
				s.Weight = min(s.Weight, maxLoad)
			}
			w.Sets = append(w.Sets, s)
		}
		if w.Validate(at) == nil {
			out = append(out, w)
		}
	}
	return out
}

// TestPrescriptionsAreLoggable is a property test: whatever the history,
// every prescription of the day's plan and of Next, logged as prescribed,
// passes the validation every logged workout must pass.
func TestPrescriptionsAreLoggable(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 2026))
	for i := range 1000 {
		at := today.AddDate(0, 0, rng.IntN(30))
		h := randomHistory(rng, at)
		for _, pr := range Build(h, at).Prescriptions {
			checkLoggable(t, fmt.Sprintf("history %d, plan", i), pr, at)
		}
		for _, ex := range workout.Catalogue() {
			pr, _ := Next(h, ex.Key, at)
			checkLoggable(t, fmt.Sprintf("history %d, next", i), pr, at)
		}
	}
}

// TestFollowingThePlanStaysLoggable: a user who does exactly what the plan
// says every day for a year progresses every exercise to its ceiling (the
// plank to 120 s) and can log every session.
func TestFollowingThePlanStaysLoggable(t *testing.T) {
	var h []workout.Workout
	start := today
	for d := range 365 {
		at := start.AddDate(0, 0, d)
		for _, pr := range Build(h, at).Prescriptions {
			checkLoggable(t, fmt.Sprintf("day %d", d), pr, at)
			h = append(h, logAsPrescribed(pr, len(h), at))
		}
	}
	if pr, _ := Next(h, "plank", start.AddDate(0, 0, 365)); pr.Reps <= workout.MaxReps {
		t.Errorf("plank after a year at %d s: the test did not reach the old limit of %d", pr.Reps, workout.MaxReps)
	}
}
