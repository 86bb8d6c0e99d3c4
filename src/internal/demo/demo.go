// Package demo generates a realistic, deterministic training history: what
// `make run -seed` shows and what the read benchmarks load.
//
// The lifter trains three days a week on alternating A/B days (squat,
// bench press, barbell row / squat, overhead press, deadlift, pull-ups,
// planks), adds load after completed sessions, stalls now and then, deloads
// after three stalls, takes a three-week break in the middle, and logs in
// pounds for a few months: everything the plan has to cope with.
package demo

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// namespace makes demo ids stable UUIDs (version 5) per user and index, so
// seeding twice stores nothing twice.
var namespace = uuid.MustParse("3f0c6f1e-8d7a-4a53-9b8e-6f0f1d2c3b4a")

type lift struct {
	key      string
	startKg  float64
	sets     int
	reps     int
	stallPct float64 // chance a session falls short, grows with load
}

// days rotate: two main lifts a session.
var days = [][]lift{
	{
		{key: "back-squat", startKg: 60, sets: 3, reps: 5, stallPct: 0.12},
		{key: "bench-press", startKg: 50, sets: 3, reps: 5, stallPct: 0.18},
	},
	{
		{key: "deadlift", startKg: 80, sets: 3, reps: 5, stallPct: 0.10},
		{key: "overhead-press", startKg: 30, sets: 3, reps: 5, stallPct: 0.22},
	},
	{
		{key: "back-squat", startKg: 60, sets: 3, reps: 5, stallPct: 0.12},
		{key: "barbell-row", startKg: 40, sets: 3, reps: 8, stallPct: 0.10},
	},
}

// History returns about `weeks` weeks of training ending the day before
// end, oldest first: with weeks=104 about 650 workouts.
func History(userID string, end time.Time, weeks int) []workout.Workout {
	rng := rand.New(rand.NewPCG(seed(userID), 7))
	type state struct {
		kg     float64
		stalls int
		last   time.Time
	}
	states := map[string]*state{}
	pullReps := 4
	day := startOfDay(end).AddDate(0, 0, -7*weeks)
	// Start on a Monday.
	for day.Weekday() != time.Monday {
		day = day.AddDate(0, 0, 1)
	}
	breakStart := day.AddDate(0, 0, 7*weeks/2)
	breakEnd := breakStart.AddDate(0, 0, 21)
	poundsFrom := day.AddDate(0, 0, 7*weeks*3/4)
	poundsTo := poundsFrom.AddDate(0, 3, 0)

	var out []workout.Workout
	session := 0
	for ; day.Before(startOfDay(end)); day = day.AddDate(0, 0, 1) {
		wd := day.Weekday()
		if wd != time.Monday && wd != time.Wednesday && wd != time.Friday {
			continue
		}
		if !day.Before(breakStart) && day.Before(breakEnd) {
			continue
		}
		if rng.Float64() < 0.06 { // a missed session now and then
			continue
		}
		unit := workout.Kilograms
		if !day.Before(poundsFrom) && day.Before(poundsTo) {
			unit = workout.Pounds
		}
		at := day.Add(time.Duration(17*60+rng.IntN(180)) * time.Minute)
		lifts := days[session%len(days)]
		session++
		for i, l := range lifts {
			st := states[l.key]
			if st == nil {
				st = &state{kg: l.startKg}
				states[l.key] = st
			}
			if !st.last.IsZero() && day.Sub(st.last) > 14*24*time.Hour {
				// Back from a break: start lighter.
				st.kg = math.Floor(st.kg*0.85/2.5) * 2.5
			}
			st.last = day
			ex, _ := workout.Lookup(l.key)
			// Stalls get likelier as the load climbs, so progress slows
			// down and plateaus after a year or so, as it does.
			failP := min(0.9, l.stallPct*math.Pow(st.kg/l.startKg, 2.5))
			failed := rng.Float64() < failP
			w := newWorkout(userID, len(out), l.key, at.Add(time.Duration(i)*15*time.Minute), unit)
			for s := 0; s < l.sets; s++ {
				reps := l.reps
				if failed && s == l.sets-1 {
					reps = l.reps - 1 - rng.IntN(2)
				}
				w.Sets = append(w.Sets, workout.Set{Reps: reps, Weight: inUnit(st.kg, unit)})
			}
			out = append(out, w)
			switch {
			case !failed:
				st.kg += ex.IncrementKg
				st.stalls = 0
			case st.stalls >= 2:
				st.kg = math.Floor(st.kg*0.9/2.5) * 2.5
				st.stalls = 0
			default:
				st.stalls++
			}
		}
		// Accessories every other session: pull-ups, then planks.
		if session%2 == 1 {
			continue
		}
		acc := newWorkout(userID, len(out), "pull-up", at.Add(50*time.Minute), unit)
		if session%4 == 0 {
			acc.Exercise = "plank"
			for s := 0; s < 3; s++ {
				acc.Sets = append(acc.Sets, workout.Set{Reps: 30 + 5*(session/20)})
			}
		} else {
			for s := 0; s < 3; s++ {
				acc.Sets = append(acc.Sets, workout.Set{Reps: pullReps - s/2})
			}
			if rng.Float64() < 0.5 && pullReps < 12 {
				pullReps++
			}
		}
		out = append(out, acc)
	}
	return out
}

func newWorkout(userID string, n int, exercise string, at time.Time, unit workout.Unit) workout.Workout {
	id := uuid.NewSHA1(namespace, []byte(userID+"/"+strconv.Itoa(n))).String()
	return workout.Workout{
		ID: id, UserID: userID, Exercise: exercise, PerformedAt: at.UTC(), Unit: unit,
		LoggedAt: at.Add(70 * time.Minute).UTC(),
	}
}

// inUnit converts a kilogram load to unit, rounded to 2.5 (lb) or 1.25 (kg).
func inUnit(kg float64, unit workout.Unit) float64 {
	if unit == workout.Pounds {
		return math.Round(kg*workout.PoundsPerKilogram/2.5) * 2.5
	}
	return math.Round(kg/1.25) * 1.25
}

func seed(s string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
