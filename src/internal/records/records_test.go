package records

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

var day0 = time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)

func w(n int, exercise string, unit workout.Unit, sets ...workout.Set) workout.Workout {
	return workout.Workout{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), UserID: "u", Exercise: exercise,
		PerformedAt: day0.AddDate(0, 0, n), Unit: unit, Sets: sets, LoggedAt: day0.AddDate(0, 0, n)}
}

func find(rs []Record, exercise string, kind Kind, reps int) (Record, bool) {
	for _, r := range rs {
		if r.Exercise == exercise && r.Kind == kind && r.Reps == reps {
			return r, true
		}
	}
	return Record{}, false
}

func TestFind(t *testing.T) {
	history := []workout.Workout{
		// Given out of order: records follow the performed dates.
		w(3, "back-squat", workout.Kilograms, workout.Set{Reps: 5, Weight: 105}, workout.Set{Reps: 3, Weight: 105}),
		w(1, "back-squat", workout.Kilograms, workout.Set{Reps: 5, Weight: 100}, workout.Set{Reps: 5, Weight: 100}),
		w(2, "back-squat", workout.Kilograms, workout.Set{Reps: 5, Weight: 100}),
		// 231.5 lb is 105.0 kg: the same load, not a record.
		w(4, "back-squat", workout.Pounds, workout.Set{Reps: 5, Weight: 231.5}),
		// The first single: it sets the 1-rep record without breaking one,
		// and its 120 kg stays under the 122.5 kg that 105 × 5 estimates.
		w(5, "back-squat", workout.Kilograms, workout.Set{Reps: 1, Weight: 120}),
		// Twenty reps estimate nothing, but are no heavier-set record either (over 12).
		w(6, "back-squat", workout.Kilograms, workout.Set{Reps: 20, Weight: 110}),
		w(7, "pull-up", workout.Kilograms, workout.Set{Reps: 8, Weight: 0}),
		w(8, "pull-up", workout.Kilograms, workout.Set{Reps: 5, Weight: 10}, workout.Set{Reps: 9, Weight: 0}),
		w(9, "plank", workout.Kilograms, workout.Set{Reps: 60}),
		w(10, "plank", workout.Kilograms, workout.Set{Reps: 45}),
	}
	res := Find(history, workout.Exercises{})
	broken := func(n int) []Record { return res.Broken[history[0].ID[:24]+fmt.Sprintf("%012d", n)] }

	if len(broken(1)) != 0 {
		t.Errorf("an exercise's first workout broke %v", broken(1))
	}
	if len(broken(2)) != 0 {
		t.Errorf("a repeat of the first workout broke %v", broken(2))
	}
	b3 := broken(3)
	if _, ok := find(b3, "back-squat", E1RM, 0); !ok {
		t.Errorf("105 × 5 after 100 × 5 broke no e1RM record: %v", b3)
	}
	if r, ok := find(b3, "back-squat", Heaviest, 5); !ok || r.Value != 105 || r.Previous != 100 {
		t.Errorf("5-rep record of workout 3: %+v (found %v)", r, ok)
	}
	if r, ok := find(b3, "back-squat", Heaviest, 3); ok {
		t.Errorf("the first 3-rep set counts as broken: %+v", r)
	}
	if len(broken(4)) != 0 {
		t.Errorf("the same load in pounds broke %v", broken(4))
	}
	b5 := broken(5)
	if _, ok := find(b5, "back-squat", E1RM, 0); ok || len(b5) != 0 {
		t.Errorf("a first single broke %v; it sets the 1-rep record without breaking one", b5)
	}
	if len(broken(6)) != 0 {
		t.Errorf("a set of 20 broke %v", broken(6))
	}
	if r, ok := find(broken(8), "pull-up", MostReps, 0); !ok || r.Value != 9 || r.Previous != 8 {
		t.Errorf("pull-up reps record: %+v (found %v)", r, ok)
	}
	if len(broken(10)) != 0 {
		t.Errorf("a shorter plank broke %v", broken(10))
	}

	if r, ok := find(res.Best, "back-squat", E1RM, 0); !ok || r.WorkoutID != history[0].ID || math.Abs(r.Value-122.5) > 1e-9 {
		t.Errorf("best squat e1RM %+v, want workout 3's 105 × 5", r)
	}
	if r, ok := find(res.Best, "back-squat", Heaviest, 1); !ok || r.Value != 120 {
		t.Errorf("best squat single %+v", r)
	}
	if r, ok := find(res.Best, "plank", LongestHold, 0); !ok || r.Value != 60 {
		t.Errorf("longest plank %+v", r)
	}
	if r, ok := find(res.Best, "pull-up", Heaviest, 5); !ok || r.Value != 10 || r.Set.Weight != 10 {
		t.Errorf("weighted pull-up record %+v", r)
	}
	if _, ok := find(res.Best, "back-squat", Heaviest, 20); ok {
		t.Error("a heaviest-set record for 20 reps")
	}
	// Best is sorted: exercise, then kind, then reps.
	for i := 1; i < len(res.Best); i++ {
		a, b := res.Best[i-1], res.Best[i]
		if a.Exercise > b.Exercise || (a.Exercise == b.Exercise && kindOrder(a.Kind) > kindOrder(b.Kind)) {
			t.Errorf("records out of order at %d: %+v before %+v", i, a, b)
		}
	}
}

// Records of a user's own exercises are found when Find knows them.
func TestFindCustomExercises(t *testing.T) {
	sled := workout.Exercise{Key: "custom-sled-push", Name: "Sled push", Group: workout.Legs, Equipment: workout.Machine, IncrementKg: 2.5}
	at := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)
	ws := []workout.Workout{
		{ID: "00000000-0000-4000-8000-000000000001", UserID: "u", Exercise: sled.Key, PerformedAt: at, Unit: workout.Kilograms,
			Sets: []workout.Set{{Reps: 10, Weight: 100}}},
		{ID: "00000000-0000-4000-8000-000000000002", UserID: "u", Exercise: sled.Key, PerformedAt: at.AddDate(0, 0, 3), Unit: workout.Kilograms,
			Sets: []workout.Set{{Reps: 10, Weight: 120}}},
	}
	if got := Find(ws, workout.Exercises{}); len(got.Best) != 0 {
		t.Fatalf("catalogue only: %d records of an unknown exercise", len(got.Best))
	}
	got := Find(ws, workout.WithCustom(sled))
	if len(got.Best) == 0 || got.Best[0].Exercise != sled.Key {
		t.Fatalf("records = %+v, want the sled push's", got.Best)
	}
	if len(got.Broken[ws[1].ID]) == 0 {
		t.Errorf("the heavier sled push broke no record: %+v", got.Broken)
	}
}
