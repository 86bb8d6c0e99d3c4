package plan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// today is a Friday.
var today = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// history builds workouts in a readable way for table tests.
type history []workout.Workout

func (h history) add(daysAgo int, exercise string, unit workout.Unit, weight float64, reps ...int) history {
	w := workout.Workout{
		ID:          fmt.Sprintf("00000000-0000-4000-8000-%012d", len(h)),
		UserID:      "ana@example.com",
		Exercise:    exercise,
		PerformedAt: today.AddDate(0, 0, -daysAgo).Add(-2 * time.Hour),
		Unit:        unit,
	}
	for _, r := range reps {
		w.Sets = append(w.Sets, workout.Set{Reps: r, Weight: weight})
	}
	w.LoggedAt = w.PerformedAt
	return append(h, w)
}

func find(t *testing.T, p Plan, exercise string) Prescription {
	t.Helper()
	for _, pr := range p.Prescriptions {
		if pr.Exercise.Key == exercise {
			return pr
		}
	}
	t.Fatalf("no prescription for %s in %+v", exercise, p.Prescriptions)
	return Prescription{}
}

func group(t *testing.T, p Plan, g workout.MuscleGroup) GroupStatus {
	t.Helper()
	for _, s := range p.Groups {
		if s.Group == g {
			return s
		}
	}
	t.Fatalf("no status for group %s", g)
	return GroupStatus{}
}

func TestBuildPrescriptions(t *testing.T) {
	// steady is six weeks of squats twice a week, each completed, 2.5 kg up each time.
	var steady history
	for i := 0; i < 12; i++ {
		steady = steady.add(3+(11-i)*3, "back-squat", workout.Kilograms, 70+2.5*float64(i), 5, 5, 5)
	}

	tests := []struct {
		name     string
		history  history
		exercise string
		kind     Kind
		weight   float64
		reps     int
		unit     workout.Unit
		reason   string
	}{
		{
			name:     "new user starts light",
			exercise: "back-squat", kind: Start, weight: 20, reps: 5, unit: workout.Kilograms,
			reason: "no back squat logged yet",
		},
		{
			name:     "new user deadlift starts heavier than the bar",
			exercise: "deadlift", kind: Start, weight: 40, reps: 5, unit: workout.Kilograms,
			reason: "start light at 40 kg",
		},
		{
			name:     "steady progress adds the catalogue increment",
			history:  steady,
			exercise: "back-squat", kind: Progress, weight: 100, reps: 5, unit: workout.Kilograms,
			reason: "completed 3×5 at 97.5 kg",
		},
		{
			name:     "deadlift progresses by its own larger increment",
			history:  history{}.add(4, "deadlift", workout.Kilograms, 140, 5, 5, 5),
			exercise: "deadlift", kind: Progress, weight: 145, reps: 5, unit: workout.Kilograms,
			reason: "add 5 kg",
		},
		{
			name: "one short session repeats the load",
			history: history{}.
				add(7, "back-squat", workout.Kilograms, 100, 5, 5, 5).
				add(3, "back-squat", workout.Kilograms, 102.5, 5, 5, 3),
			exercise: "back-squat", kind: Repeat, weight: 102.5, reps: 5, unit: workout.Kilograms,
			reason: "stall 1 of 3",
		},
		{
			name: "three stalls in a row deload by ten percent",
			history: history{}.
				add(12, "back-squat", workout.Kilograms, 100, 5, 5, 5).
				add(9, "back-squat", workout.Kilograms, 102.5, 5, 4, 4).
				add(6, "back-squat", workout.Kilograms, 102.5, 5, 5, 3).
				add(3, "back-squat", workout.Kilograms, 102.5, 5, 4, 3),
			exercise: "back-squat", kind: Deload, weight: 91.25, reps: 5, unit: workout.Kilograms,
			reason: "3 sessions in a row at 102.5 kg short of 3×5 (last: 5,4,3): deload 10%",
		},
		{
			name: "a success breaks the stall chain",
			history: history{}.
				add(12, "back-squat", workout.Kilograms, 102.5, 5, 4, 4).
				add(9, "back-squat", workout.Kilograms, 102.5, 5, 5, 5).
				add(6, "back-squat", workout.Kilograms, 105, 5, 5, 3).
				add(3, "back-squat", workout.Kilograms, 105, 5, 4, 3),
			exercise: "back-squat", kind: Repeat, weight: 105, reps: 5, unit: workout.Kilograms,
			reason: "stall 2 of 3",
		},
		{
			name:     "a break of three weeks restarts at 90 percent",
			history:  history{}.add(21, "bench-press", workout.Kilograms, 80, 5, 5, 5),
			exercise: "bench-press", kind: Restart, weight: 71.25, reps: 5, unit: workout.Kilograms,
			reason: "21 days ago at 80 kg: restart at 90%",
		},
		{
			name:     "a long break restarts at 80 percent",
			history:  history{}.add(60, "back-squat", workout.Kilograms, 100, 5, 5, 5),
			exercise: "back-squat", kind: Restart, weight: 80, reps: 5, unit: workout.Kilograms,
			reason: "60 days ago at 100 kg: restart at 80%",
		},
		{
			name: "mixed units prescribe in the latest unit",
			history: history{}.
				add(5, "back-squat", workout.Kilograms, 100, 5, 5, 5).
				add(1, "bench-press", workout.Pounds, 135, 5, 5, 5),
			exercise: "back-squat", kind: Progress, weight: 225, reps: 5, unit: workout.Pounds,
			reason: "completed 3×5 at 220 lb",
		},
		{
			name: "stalls across a unit switch still count as the same load",
			history: history{}.
				add(9, "back-squat", workout.Kilograms, 100, 5, 5, 2).
				add(6, "back-squat", workout.Pounds, 220.5, 5, 4, 3).
				add(3, "back-squat", workout.Kilograms, 100, 5, 5, 4),
			exercise: "back-squat", kind: Deload, weight: 90, reps: 5, unit: workout.Kilograms,
			reason: "3 sessions in a row at 100 kg",
		},
		{
			name:     "bodyweight exercises progress by reps",
			history:  history{}.add(4, "pull-up", workout.Kilograms, 0, 6, 6, 6),
			exercise: "pull-up", kind: Progress, weight: 0, reps: 7, unit: workout.Kilograms,
			reason: "add 1 per set",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr, ok := Next(tt.history, tt.exercise, today)
			if !ok {
				t.Fatalf("no prescription for %s", tt.exercise)
			}
			if pr.Kind != tt.kind {
				t.Errorf("kind = %s, want %s (%s)", pr.Kind, tt.kind, pr.Reason)
			}
			if math.Abs(pr.Weight-tt.weight) > 1e-9 {
				t.Errorf("weight = %v, want %v (%s)", pr.Weight, tt.weight, pr.Reason)
			}
			if pr.Reps != tt.reps || pr.Unit != tt.unit {
				t.Errorf("reps, unit = %d %s, want %d %s", pr.Reps, pr.Unit, tt.reps, tt.unit)
			}
			if !strings.Contains(pr.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", pr.Reason, tt.reason)
			}
		})
	}
}

func TestBuildNewUser(t *testing.T) {
	p := Build(nil, today)
	var got []string
	for _, pr := range p.Prescriptions {
		got = append(got, pr.Exercise.Key+":"+string(pr.Kind))
		if pr.Reason == "" {
			t.Errorf("%s has no reason", pr.Exercise.Key)
		}
	}
	want := []string{"back-squat:start", "deadlift:start", "bench-press:start"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("prescriptions (-want +got):\n%s", diff)
	}
	if len(p.Notes) == 0 || !strings.Contains(p.Notes[len(p.Notes)-1], "no history yet") {
		t.Errorf("notes = %q, want the no-history note", p.Notes)
	}
	if st := group(t, p, workout.Pull); st.Planned || !strings.Contains(st.Reason, "plan is full") {
		t.Errorf("pull = %+v, want not planned because the plan is full", st)
	}
}

func TestBuildRecoveryAndVolume(t *testing.T) {
	h := history{}.
		add(1, "back-squat", workout.Kilograms, 100, 5, 5, 5). // legs yesterday
		add(2, "deadlift", workout.Kilograms, 140, 5, 5, 5).   // posterior 2 days ago, needs 3
		add(5, "bench-press", workout.Kilograms, 80, 5, 5, 5).
		add(3, "bench-press", workout.Kilograms, 82.5, 5, 5, 5).
		add(2, "overhead-press", workout.Kilograms, 50, 5, 5, 5). // push: 9 sets this week
		add(6, "barbell-row", workout.Kilograms, 60, 8, 8, 8).
		add(0, "plank", workout.Kilograms, 0, 40, 40, 40) // core today
	p := Build(h, today)

	tests := []struct {
		group   workout.MuscleGroup
		planned bool
		reason  string
	}{
		{workout.Legs, false, "recovering: trained yesterday, needs 2 days, next from Sat 21 Nov"},
		{workout.Posterior, false, "recovering: trained 2 days ago, needs 3 days"},
		{workout.Push, false, "weekly volume reached: 9 of 9 sets"},
		{workout.Pull, true, "below the weekly target (3 of 9 sets): Barbell row"},
		{workout.Core, false, "already trained today"},
	}
	for _, tt := range tests {
		t.Run(string(tt.group), func(t *testing.T) {
			st := group(t, p, tt.group)
			if st.Planned != tt.planned || !strings.Contains(st.Reason, tt.reason) {
				t.Errorf("got planned=%v %q, want planned=%v containing %q", st.Planned, st.Reason, tt.planned, tt.reason)
			}
		})
	}
	if len(p.Prescriptions) != 1 || p.Prescriptions[0].Exercise.Key != "barbell-row" {
		t.Fatalf("prescriptions = %+v, want only the row", p.Prescriptions)
	}
	if pr := p.Prescriptions[0]; pr.Kind != Progress || pr.Weight != 62.5 {
		t.Errorf("row = %s %v, want progress to 62.5 (%s)", pr.Kind, pr.Weight, pr.Reason)
	}
	if got := group(t, p, workout.Push).WeekVolume; got != 3188 { // 1200 + 1237.5 + 750, rounded
		t.Errorf("push week volume = %v", got)
	}
}

func TestBuildVolumeBalanceOrdersGroups(t *testing.T) {
	// Push is well trained this week, pull hardly: pull comes first and a
	// balance note says so.
	h := history{}.
		add(6, "bench-press", workout.Kilograms, 80, 5, 5, 5).
		add(4, "overhead-press", workout.Kilograms, 50, 5, 5, 5).
		add(13, "bench-press", workout.Kilograms, 77.5, 5, 5, 5).
		add(11, "overhead-press", workout.Kilograms, 47.5, 5, 5, 5).
		add(5, "barbell-row", workout.Kilograms, 60, 8, 8, 8)
	p := Build(h, today)
	var order []string
	for _, pr := range p.Prescriptions {
		order = append(order, string(pr.Exercise.Group))
	}
	want := []string{"legs", "posterior", "core"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("group order (-want +got):\n%s", diff)
	}
	if len(p.Notes) != 1 || !strings.HasPrefix(p.Notes[0], "pull sets are 3 against 12 for push") {
		t.Errorf("notes = %q", p.Notes)
	}
}

func TestBuildRotatesExercisesWithinAGroup(t *testing.T) {
	h := history{}.
		add(10, "bench-press", workout.Kilograms, 80, 5, 5, 5).
		add(4, "overhead-press", workout.Kilograms, 50, 5, 5, 5).
		add(6, "back-squat", workout.Kilograms, 100, 5, 5, 5).
		add(5, "deadlift", workout.Kilograms, 140, 5, 5, 5).
		add(5, "barbell-row", workout.Kilograms, 60, 8, 8, 8).
		add(6, "plank", workout.Kilograms, 0, 40, 40, 40)
	p := Build(h, today)
	if pr := find(t, p, "bench-press"); pr.Kind != Progress || pr.Weight != 82.5 {
		t.Errorf("bench = %s %v, want the least recently done push exercise progressed", pr.Kind, pr.Weight)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	var h history
	exercises := []string{"back-squat", "deadlift", "bench-press", "barbell-row", "overhead-press", "pull-up", "plank"}
	for i := 0; i < 200; i++ {
		ex := exercises[i%len(exercises)]
		unit := workout.Kilograms
		if i%5 == 0 {
			unit = workout.Pounds
		}
		h = h.add(1+i/2, ex, unit, 40+float64(i%9)*2.5, 5, 5, 4+i%2)
	}
	want := Build(h, today)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		shuffled := append(history(nil), h...)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		if diff := cmp.Diff(want, Build(shuffled, today)); diff != "" {
			t.Fatalf("shuffle %d changed the plan (-want +got):\n%s", i, diff)
		}
	}
}

func TestBuildIgnoresLaterWorkouts(t *testing.T) {
	h := history{}.
		add(4, "back-squat", workout.Kilograms, 100, 5, 5, 5).
		add(-3, "back-squat", workout.Kilograms, 200, 1)
	if pr, _ := Next(h, "back-squat", today); pr.Weight != 102.5 {
		t.Errorf("weight = %v, want 102.5 from the session before today", pr.Weight)
	}
}

func TestE1RM(t *testing.T) {
	tests := []struct {
		weight float64
		reps   int
		want   float64
	}{
		{100, 1, 100},
		{100, 5, 116.667},
		{100, 10, 133.333},
		{60, 0, 0},
		{0, 5, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%vx%d", tt.weight, tt.reps), func(t *testing.T) {
			if got := E1RM(tt.weight, tt.reps); math.Abs(got-tt.want) > 1e-3 {
				t.Errorf("E1RM = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRoundLoad(t *testing.T) {
	tests := []struct {
		kg   float64
		unit workout.Unit
		want float64
	}{
		{100, workout.Kilograms, 100},
		{92.25, workout.Kilograms, 91.25},
		{100, workout.Pounds, 220},
		{220.5 / workout.PoundsPerKilogram, workout.Pounds, 220},
		{61.235, workout.Pounds, 135},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v-%s", tt.kg, tt.unit), func(t *testing.T) {
			if got := roundLoad(tt.kg, tt.unit); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("roundLoad = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTrends(t *testing.T) {
	h := history{}.
		add(15, "back-squat", workout.Kilograms, 100, 5, 5, 5). // Thu 5 Nov
		add(1, "back-squat", workout.Pounds, 225, 5, 5, 5).     // Thu 19 Nov
		add(2, "pull-up", workout.Kilograms, 0, 8, 7, 6)
	got := Trends(h, workout.Exercises{}, workout.Kilograms, time.UTC)
	if len(got) != 2 || got[0].Exercise.Key != "back-squat" || got[1].Exercise.Key != "pull-up" {
		t.Fatalf("series = %+v", got)
	}
	sq := got[0]
	if len(sq.Points) != 2 || sq.Points[0].E1RM != 116.7 || sq.Points[1].E1RM != 119.1 {
		t.Errorf("squat points = %+v", sq.Points)
	}
	wantWeeks := []float64{1500, 0, 1531}
	var weeks []float64
	for _, w := range sq.Weeks {
		weeks = append(weeks, w.Volume)
		if w.Start.Weekday() != time.Monday {
			t.Errorf("week starts on %s", w.Start.Weekday())
		}
	}
	if diff := cmp.Diff(wantWeeks, weeks); diff != "" {
		t.Errorf("squat weekly volume (-want +got):\n%s", diff)
	}
	if pu := got[1]; pu.Points[0].E1RM != 8 || pu.Weeks[0].Volume != 21 {
		t.Errorf("pull-up series = %+v", pu)
	}
}

// TestTrendsWeightedBodyweight: a pull-up with 25 lb added is a set of
// reps at bodyweight plus 25 lb; its chart counts reps and names the added
// load, never an "estimated 1RM" of the added plate alone.
func TestTrendsWeightedBodyweight(t *testing.T) {
	h := history{}.
		add(3, "pull-up", workout.Pounds, 25, 5, 5, 4).
		add(1, "pull-up", workout.Pounds, 0, 9, 8)
	got := Trends(h, workout.Exercises{}, workout.Pounds, time.UTC)
	if len(got) != 1 {
		t.Fatalf("series = %+v", got)
	}
	pts := got[0].Points
	want := []Point{
		{Date: startOfDay(h[0].PerformedAt), E1RM: 5, AddedLoad: 25},
		{Date: startOfDay(h[1].PerformedAt), E1RM: 9},
	}
	if diff := cmp.Diff(want, pts); diff != "" {
		t.Errorf("points (-want +got):\n%s", diff)
	}
	if v := got[0].Weeks[len(got[0].Weeks)-1].Volume; v != 31 {
		t.Errorf("weekly volume = %v, want 31 reps", v)
	}
}

// TestTrendsInTheUsersZone: an evening session in New York (after midnight
// UTC) is charted on its own day there.
func TestTrendsInTheUsersZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	h := history{}.add(0, "back-squat", workout.Kilograms, 100, 5)
	h[0].PerformedAt = time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC) // 21:30 on the 19th there
	got := Trends(h, workout.Exercises{}, workout.Kilograms, ny)[0].Points[0].Date
	if y, m, d := got.Date(); y != 2026 || m != time.November || d != 19 || got.Location() != ny {
		t.Errorf("charted on %v, want 19 Nov in New York", got)
	}
}

// A user's own exercises count in their muscle group, are chosen like the
// catalogue's and progress by their equipment's step; a timed one is
// prescribed in seconds. Without them the plan ignored such workouts and
// prescribed the group's barbell lift from nothing.
func TestBuildWithCustomExercises(t *testing.T) {
	beltSquat := workout.Exercise{Key: "custom-belt-squat", Name: "Belt squat", Group: workout.Legs, Equipment: workout.Machine,
		IncrementKg: workout.IncrementKg(workout.Machine)}
	ringRow := workout.Exercise{Key: "custom-ring-row", Name: "Ring row", Group: workout.Pull, Equipment: workout.BodyWeight, Bodyweight: true}
	hollow := workout.Exercise{Key: "custom-hollow-hold", Name: "Hollow hold", Group: workout.Core, Equipment: workout.BodyWeight,
		Bodyweight: true, Timed: true}
	h := history{}.
		add(4, "custom-belt-squat", workout.Kilograms, 80, 8, 8, 8).
		add(4, "custom-ring-row", workout.Kilograms, 0, 10, 10, 10).
		add(3, "custom-hollow-hold", workout.Kilograms, 0, 30, 30, 30)
	prof := Profile{Exercises: workout.WithCustom(beltSquat, ringRow, hollow)}
	p := BuildFor(h, today, prof)

	if pr := find(t, p, "custom-belt-squat"); pr.Kind != Progress || pr.Weight != 82.5 || pr.Reps != 8 {
		t.Errorf("belt squat = %s %d × %v, want progress to 82.5 kg × 8", pr.Kind, pr.Reps, pr.Weight)
	}
	// Today's plan is full after three exercises: the others as the log
	// form asks for them.
	if pr, ok := NextFor(h, "custom-ring-row", today, prof); !ok || pr.Kind != Progress || pr.Reps != 11 {
		t.Errorf("ring row = %s %d reps, want progress to 11", pr.Kind, pr.Reps)
	}
	if pr, ok := NextFor(h, "custom-hollow-hold", today, prof); !ok || pr.Reps <= 30 || pr.Reps > workout.MaxSeconds || !pr.Exercise.Timed {
		t.Errorf("hollow hold = %d s (timed %v), want more than 30 s and loggable", pr.Reps, pr.Exercise.Timed)
	}
	for g, want := range map[workout.MuscleGroup]int{workout.Legs: 3, workout.Pull: 3, workout.Core: 3} {
		if st := group(t, p, g); st.WeekSets != want {
			t.Errorf("%s counted %d sets this week, want the custom exercise's %d", g, st.WeekSets, want)
		}
	}

	// The catalogue alone does not know them: the same history plans the
	// groups' barbell lifts from nothing.
	if pr := find(t, Build(h, today), "back-squat"); pr.Kind != Start {
		t.Errorf("without the user's exercises, squat = %s", pr.Kind)
	}
	if next, ok := NextFor(h, "custom-belt-squat", today, Profile{Exercises: workout.WithCustom(beltSquat)}); !ok || next.Weight != 82.5 {
		t.Errorf("NextFor belt squat = %v %v, want 82.5 kg", next.Weight, ok)
	}
	if _, ok := Next(h, "custom-belt-squat", today); ok {
		t.Error("Next knows a custom exercise without the profile")
	}
	trends := Trends(h, workout.WithCustom(beltSquat, ringRow, hollow), workout.Kilograms, time.UTC)
	if len(trends) != 3 {
		t.Errorf("trends of %d exercises, want the 3 custom ones", len(trends))
	}
}
