package plan

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

func squat(day time.Time, sets ...workout.Set) workout.Workout {
	return workout.Workout{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", day.Unix()), UserID: "u", Exercise: "back-squat",
		PerformedAt: day, Unit: workout.Kilograms, Sets: sets, LoggedAt: day}
}

func set(reps int, kg, rpe float64) workout.Set { return workout.Set{Reps: reps, Weight: kg, RPE: rpe} }

func TestWorkSetsAndRPE(t *testing.T) {
	last := time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)
	today := last.AddDate(0, 0, 2)
	tests := []struct {
		name   string
		sets   []workout.Set
		kind   Kind
		weight float64
		reason string
	}{
		{"plain 3×5", []workout.Set{set(5, 100, 0), set(5, 100, 0), set(5, 100, 0)}, Progress, 102.5, "add 2.5 kg"},
		{"back-off set after the work", []workout.Set{set(5, 100, 0), set(5, 100, 0), set(5, 100, 0), set(8, 80, 0)}, Progress, 102.5, ""},
		{"a top single before the work", []workout.Set{set(1, 120, 0), set(5, 100, 0), set(5, 100, 0), set(5, 100, 0)}, Progress, 102.5, ""},
		{"ramping to one top set", []workout.Set{set(5, 60, 0), set(5, 80, 0), set(5, 100, 0)}, Repeat, 100, ""},
		{"completed at RPE 10", []workout.Set{set(5, 100, 8), set(5, 100, 9), set(5, 100, 10)}, Repeat, 100, "RPE 10"},
		{"completed easily", []workout.Set{set(5, 100, 6), set(5, 100, 6.5), set(5, 100, 7)}, Progress, 105, "double step"},
		{"easy but one set unrated", []workout.Set{set(5, 100, 6), set(5, 100, 0), set(5, 100, 7)}, Progress, 102.5, ""},
		{"short of the reps", []workout.Set{set(5, 100, 9), set(5, 100, 10), set(3, 100, 10)}, Repeat, 100, "stall 1 of 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr, _ := Next([]workout.Workout{squat(last, tt.sets...)}, "back-squat", today)
			if pr.Kind != tt.kind || pr.Weight != tt.weight || !strings.Contains(pr.Reason, tt.reason) {
				t.Errorf("%s %v: %s", pr.Kind, pr.Weight, pr.Reason)
			}
		})
	}
}

func TestCompoundLiftsFirst(t *testing.T) {
	day := time.Date(2026, 1, 5, 18, 0, 0, 0, time.UTC)
	for _, profile := range []Profile{{}, {DaysPerWeek: 2}, {DaysPerWeek: 3}} {
		p := BuildFor(nil, day, profile)
		seen := 0
		for _, pr := range p.Prescriptions {
			r := orderRank(pr.Exercise)
			if r < seen {
				t.Errorf("profile %+v: %s after a later kind: %v", profile, pr.Exercise.Key, p.Prescriptions)
			}
			seen = r
		}
		if p.Prescriptions[0].Exercise.Bodyweight {
			t.Errorf("profile %+v starts with %s", profile, p.Prescriptions[0].Exercise.Key)
		}
	}
}
