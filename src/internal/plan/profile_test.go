package plan

import (
	"fmt"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// trainingDays are the weekdays a lifter training n days a week uses.
var trainingDays = map[int][]time.Weekday{
	2: {time.Monday, time.Thursday},
	3: {time.Monday, time.Wednesday, time.Friday},
	4: {time.Monday, time.Tuesday, time.Thursday, time.Friday},
	5: {time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
	6: {time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday},
}

// A lifter who trains on the days they said and does every prescription
// meets every weekly target: the targets fit the week they have.
func TestWeeklyTargetsFitTheDaysPerWeek(t *testing.T) {
	start := time.Date(2026, 1, 5, 18, 0, 0, 0, time.UTC) // a Monday
	for days, weekdays := range trainingDays {
		t.Run(fmt.Sprintf("%d days", days), func(t *testing.T) {
			profile := Profile{DaysPerWeek: days}
			var history []workout.Workout
			n := 0
			for d := range 28 {
				day := start.AddDate(0, 0, d)
				trains := false
				for _, wd := range weekdays {
					trains = trains || day.Weekday() == wd
				}
				if !trains {
					continue
				}
				p := BuildFor(history, day, profile)
				perDay := profile.perDay()
				if len(p.Prescriptions) > perDay {
					t.Fatalf("%s: %d exercises, over the day's %d", day.Format("Mon 2 Jan"), len(p.Prescriptions), perDay)
				}
				for _, pr := range p.Prescriptions {
					n++
					w := workout.Workout{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), UserID: "u", Exercise: pr.Exercise.Key,
						PerformedAt: day, Unit: pr.Unit, LoggedAt: day}
					for range pr.Sets {
						w.Sets = append(w.Sets, workout.Set{Reps: pr.Reps, Weight: pr.Weight})
					}
					history = append(history, w)
				}
			}
			// The last full week: every group reached its target.
			end := start.AddDate(0, 0, 27)
			p := BuildFor(history, end, profile)
			for _, g := range p.Groups {
				if g.WeekSets < g.TargetSets {
					t.Errorf("%s: %d of %d sets in the last week", g.Group, g.WeekSets, g.TargetSets)
				}
			}
		})
	}
}

func TestProfileUnitAndDayLimits(t *testing.T) {
	day := time.Date(2026, 1, 5, 18, 0, 0, 0, time.UTC)
	if p := Build(nil, day); len(p.Prescriptions) != MaxExercises {
		t.Errorf("a beginner without a profile gets %d exercises, want %d", len(p.Prescriptions), MaxExercises)
	}
	p := BuildFor(nil, day, Profile{DaysPerWeek: 2, Unit: workout.Pounds})
	if len(p.Prescriptions) != MaxDaysExercises || p.Unit != workout.Pounds {
		t.Errorf("a beginner training twice a week: %d exercises in %s, want %d in lb", len(p.Prescriptions), p.Unit, MaxDaysExercises)
	}
	for _, pr := range p.Prescriptions {
		if pr.Unit != workout.Pounds {
			t.Errorf("%s prescribed in %s", pr.Exercise.Key, pr.Unit)
		}
	}
}
