package plan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// lifter is a simulated new lifter whose strength grows slowly: a
// prescription at or under their capacity is completed, one above it is
// missed by a few reps at RPE 10.
type lifter struct {
	// capacityKg is the heaviest load each loaded exercise can be done for
	// its scheme's reps; capacityReps the most reps (seconds) of a
	// bodyweight one. Both grow weekly.
	capacityKg   map[string]float64
	capacityReps map[string]int
	rng          *rand.Rand
}

func (l *lifter) grow() {
	for k := range l.capacityKg {
		l.capacityKg[k] *= 1.01
	}
	for k := range l.capacityReps {
		l.capacityReps[k]++
	}
}

// perform logs pr as this lifter manages it.
func (l *lifter) perform(pr Prescription, id int, at time.Time) (workout.Workout, bool) {
	w := logAsPrescribed(pr, id, at)
	kg := w.WeightKg(workout.Set{Weight: pr.Weight})
	var completed bool
	if pr.Exercise.Bodyweight {
		completed = pr.Reps <= l.capacityReps[pr.Exercise.Key]
	} else {
		completed = kg <= l.capacityKg[pr.Exercise.Key]+1e-9
	}
	for i := range w.Sets {
		if completed {
			// Easier when far under capacity.
			w.Sets[i].RPE = float64(7 + min(2, i+l.rng.IntN(2)))
			continue
		}
		w.Sets[i].Reps = max(1, pr.Reps-1-i-l.rng.IntN(2))
		w.Sets[i].RPE = 10
	}
	return w, completed
}

type simSession struct {
	day       int
	pr        Prescription
	completed bool
	kg        float64
}

// TestSimulatedLifter follows a new lifter over 12 weeks: three sessions a
// week (some skipped), 3 weeks off in the middle, doing what the plan says
// as well as their slowly growing strength allows, RPE logged. Loads rise
// while sessions are completed, repeat after a miss, deload after
// StallsBeforeDeload misses in a row, restart lower after the break, and
// every prescription can be logged.
func TestSimulatedLifter(t *testing.T) {
	l := &lifter{
		capacityKg:   map[string]float64{"back-squat": 32, "deadlift": 55, "bench-press": 27, "barbell-row": 36, "overhead-press": 22},
		capacityReps: map[string]int{"plank": 45, "pull-up": 4, "dip": 6},
		rng:          rand.New(rand.NewPCG(12, 18)),
	}
	monday := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	const weeks = 12
	breakWeeks := map[int]bool{5: true, 6: true, 7: true}
	var history []workout.Workout
	byEx := map[string][]simSession{}
	for week := range weeks {
		for _, weekday := range []int{0, 2, 4} { // Monday, Wednesday, Friday
			day := week*7 + weekday
			at := monday.AddDate(0, 0, day)
			if breakWeeks[week] || l.rng.IntN(10) == 0 { // a break, or a missed session
				continue
			}
			for _, pr := range Build(history, at).Prescriptions {
				checkLoggable(t, fmt.Sprintf("day %d", day), pr, at)
				w, ok := l.perform(pr, len(history), at)
				if err := w.Validate(at); err != nil {
					t.Fatalf("day %d: the lifter's %s does not validate: %v", day, pr.Exercise.Key, err)
				}
				history = append(history, w)
				byEx[pr.Exercise.Key] = append(byEx[pr.Exercise.Key], simSession{day: day, pr: pr, completed: ok, kg: w.WeightKg(w.Sets[0])})
			}
		}
		l.grow()
	}

	var progressed, deloads, restarts int
	for key, ss := range byEx {
		for i := 1; i < len(ss); i++ {
			prev, cur := ss[i-1], ss[i]
			what := fmt.Sprintf("%s day %d after day %d (%s)", key, cur.day, prev.day, cur.pr.Reason)
			switch gap := cur.day - prev.day; {
			case gap >= BreakDays:
				restarts++
				if cur.pr.Kind != Restart || cur.kg > prev.kg || (cur.pr.Exercise.Bodyweight && cur.pr.Reps > prev.pr.Reps) {
					t.Errorf("%s: after %d days off got %s at %.2f kg × %d, want a restart below %.2f kg × %d",
						what, gap, cur.pr.Kind, cur.kg, cur.pr.Reps, prev.kg, prev.pr.Reps)
				}
			case prev.completed:
				progressed++
				rose := cur.kg > prev.kg || cur.pr.Reps > prev.pr.Reps
				atCeiling := cur.pr.Exercise.Bodyweight && cur.pr.Reps == prev.pr.Reps
				if cur.pr.Kind != Progress || !(rose || atCeiling) {
					t.Errorf("%s: after a completed session got %s at %.2f kg × %d (was %.2f × %d)", what, cur.pr.Kind, cur.kg, cur.pr.Reps, prev.kg, prev.pr.Reps)
				}
			default:
				stalls := 0
				for j := i - 1; j >= 0 && !ss[j].completed && math.Abs(ss[j].kg-prev.kg) < sameLoadKg; j-- {
					stalls++
				}
				want := Repeat
				if stalls >= StallsBeforeDeload {
					want = Deload
					deloads++
				}
				if cur.pr.Kind != want {
					t.Errorf("%s: after %d missed sessions got %s, want %s", what, stalls, cur.pr.Kind, want)
				}
				if want == Deload && !(cur.kg < prev.kg || cur.pr.Reps < prev.pr.Reps) {
					t.Errorf("%s: a deload that does not lower the load: %.2f kg × %d", what, cur.kg, cur.pr.Reps)
				}
			}
		}
	}
	// The loaded lifts end heavier than they started, the break included.
	for _, key := range []string{"back-squat", "deadlift", "bench-press"} {
		ss := byEx[key]
		if len(ss) < 6 || ss[len(ss)-1].kg <= ss[0].kg {
			t.Errorf("%s: %d sessions from %.2f to %.2f kg: no rise", key, len(ss), ss[0].kg, ss[len(ss)-1].kg)
		}
	}
	t.Logf("%d workouts: %d progressions, %d deloads, %d restarts", len(history), progressed, deloads, restarts)
	if progressed == 0 || deloads == 0 || restarts == 0 {
		t.Errorf("the simulation did not exercise every rule: %d progressions, %d deloads, %d restarts", progressed, deloads, restarts)
	}
}
