// Package plan turns a user's workout history into today's training plan.
//
// The rules are those of a simple linear-progression programme:
//   - progressive overload: after a session that completed every prescribed set
//     and rep, the load goes up by the exercise's increment from the catalogue
//     (bodyweight exercises add reps instead);
//   - work sets: a session's load is its working load, the heaviest load
//     that the scheme's number of sets reached (a top single before the
//     work or back-off sets after it change nothing);
//   - effort (RPE, when logged): a session completed at RPE 9.5 or more
//     repeats its load; one whose work sets were all RPE 7 or less adds two
//     steps;
//   - stalls and deloads: a session short of the prescription repeats the
//     load; the third such session in a row at the same load deloads by 10%;
//   - long breaks: after 14 days without an exercise the load restarts at 90%,
//     after 28 days at 80%;
//   - recovery spacing: a muscle group is not trained again before its
//     recovery days have passed;
//   - weekly volume balance: recovered groups furthest below their weekly set
//     target come first, and a group that already met its target rests; the
//     targets and the exercises per day follow the days a week the user
//     trains (Profile);
//   - order: barbell lifts first, then bodyweight exercises, then holds.
//
// Histories may mix kilograms and pounds: everything is compared in
// kilograms and prescribed in the unit of the user's latest workout, rounded
// to loadable plates. Given the same history and date, the plan is the same:
// nothing depends on the clock, map order or input order. Every prescription
// carries the reason for it.
package plan

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Kind says why a prescription has its load.
type Kind string

const (
	// Start is the first prescription for an exercise without history.
	Start Kind = "start"
	// Progress adds load (or reps) after a completed session.
	Progress Kind = "progress"
	// Repeat keeps the load after a session short of the prescription.
	Repeat Kind = "repeat"
	// Deload lowers the load after repeated stalls.
	Deload Kind = "deload"
	// Restart lowers the load after a long break.
	Restart Kind = "restart"
)

// Tunables of the programme. They are constants rather than options so that
// the same history always yields the same plan.
const (
	// MaxExercises bounds one day's plan when the days per week are
	// not known (Profile).
	MaxExercises = 3
	// StallsBeforeDeload is how many sessions in a row short of the
	// prescription at one load trigger a deload.
	StallsBeforeDeload = 3
	// DeloadFactor is the load kept after a deload.
	DeloadFactor = 0.9
	// BreakDays and LongBreakDays are the gaps after which an exercise
	// restarts at BreakFactor and LongBreakFactor of its last load.
	BreakDays       = 14
	LongBreakDays   = 28
	BreakFactor     = 0.9
	LongBreakFactor = 0.8
	// GrindRPE: a work set at this RPE or above had nothing left, so a
	// completed session repeats its load instead of adding to it.
	GrindRPE = 9.5
	// EasyRPE: a session whose work sets were all rated at most this
	// (three or more reps left) progresses by two steps.
	EasyRPE = 7
	// sameLoadKg is the tolerance under which two loads count as the same
	// (one lb/kg conversion and rounding to plates stay inside it).
	sameLoadKg = 0.6
)

// scheme is the set and rep target of an exercise.
type scheme struct {
	sets, reps int
	// startKg is a conservative first load for a user without history.
	startKg float64
	// maxReps caps rep progression of bodyweight exercises (0: no cap).
	maxReps int
	// repStep is how many reps a bodyweight exercise adds per progression.
	repStep int
}

var schemes = map[string]scheme{
	"back-squat":              {sets: 3, reps: 5, startKg: 20},
	"front-squat":             {sets: 3, reps: 8, startKg: 20},
	"deadlift":                {sets: 3, reps: 5, startKg: 40},
	"romanian-deadlift":       {sets: 3, reps: 8, startKg: 30},
	"bench-press":             {sets: 3, reps: 5, startKg: 20},
	"overhead-press":          {sets: 3, reps: 5, startKg: 20},
	"barbell-row":             {sets: 3, reps: 8, startKg: 30},
	"dip":                     {sets: 3, reps: 5, maxReps: 15, repStep: 1},
	"pull-up":                 {sets: 3, reps: 3, maxReps: 12, repStep: 1},
	"plank":                   {sets: 3, reps: 30, maxReps: 120, repStep: 5},
	"goblet-squat":            {sets: 3, reps: 10, startKg: 12},
	"leg-press":               {sets: 3, reps: 10, startKg: 40},
	"lunge":                   {sets: 3, reps: 10, startKg: 8},
	"leg-extension":           {sets: 3, reps: 12, startKg: 20},
	"hip-thrust":              {sets: 3, reps: 8, startKg: 40},
	"leg-curl":                {sets: 3, reps: 10, startKg: 20},
	"incline-dumbbell-press":  {sets: 3, reps: 8, startKg: 10},
	"dumbbell-shoulder-press": {sets: 3, reps: 8, startKg: 8},
	"push-up":                 {sets: 3, reps: 8, maxReps: 30, repStep: 1},
	"dumbbell-row":            {sets: 3, reps: 8, startKg: 14},
	"lat-pulldown":            {sets: 3, reps: 10, startKg: 30},
	"seated-cable-row":        {sets: 3, reps: 10, startKg: 30},
	"chin-up":                 {sets: 3, reps: 3, maxReps: 12, repStep: 1},
	"hanging-leg-raise":       {sets: 3, reps: 6, maxReps: 20, repStep: 1},
	"cable-crunch":            {sets: 3, reps: 12, startKg: 20},
}

func schemeFor(ex workout.Exercise) scheme {
	if s, ok := schemes[ex.Key]; ok {
		return s
	}
	if ex.Timed {
		return schemes["plank"]
	}
	if ex.Bodyweight {
		return scheme{sets: 3, reps: 5, maxReps: 15, repStep: 1}
	}
	return scheme{sets: 3, reps: 8, startKg: 20}
}

// groupRule is the recovery spacing and weekly target of a muscle group.
type groupRule struct {
	// recoveryDays is the minimum number of calendar days between two
	// sessions of the group (2: trained Monday, again Wednesday).
	recoveryDays int
	// weeklySets is the number of hard sets per 7 days the plan aims for.
	weeklySets int
	// primary is the exercise prescribed when the user has none in the group.
	primary string
}

var groupRules = map[workout.MuscleGroup]groupRule{
	workout.Legs:      {recoveryDays: 2, weeklySets: 9, primary: "back-squat"},
	workout.Posterior: {recoveryDays: 3, weeklySets: 6, primary: "deadlift"},
	workout.Push:      {recoveryDays: 2, weeklySets: 9, primary: "bench-press"},
	workout.Pull:      {recoveryDays: 2, weeklySets: 9, primary: "barbell-row"},
	workout.Core:      {recoveryDays: 1, weeklySets: 6, primary: "plank"},
}

// Groups returns the muscle groups the plan balances, in a fixed order.
func Groups() []workout.MuscleGroup {
	return []workout.MuscleGroup{workout.Legs, workout.Posterior, workout.Push, workout.Pull, workout.Core}
}

// Prescription is what to do for one exercise today, and why.
type Prescription struct {
	Exercise workout.Exercise
	Kind     Kind
	Sets     int
	Reps     int
	// Weight is the load per set in Unit; 0 for bodyweight exercises
	// without added load.
	Weight float64
	Unit   workout.Unit
	// E1RM is the estimated one-rep max of the latest session in Unit, 0
	// when unknown (no history or a bodyweight exercise).
	E1RM   float64
	Reason string
}

// GroupStatus is the state of one muscle group today.
type GroupStatus struct {
	Group workout.MuscleGroup
	// LastTrained is the day the group was last trained (zero if never).
	LastTrained time.Time
	// WeekSets and TargetSets are hard sets in the 7 days ending today and
	// the weekly target.
	WeekSets   int
	TargetSets int
	// WeekVolume is the sum of reps × load (kg converted to the plan's
	// unit) in the same 7 days.
	WeekVolume float64
	// Planned is true when an exercise of the group is prescribed today.
	Planned bool
	// Reason explains why the group is or is not trained today.
	Reason string
}

// Plan is one day's plan for one user.
type Plan struct {
	Date          time.Time
	Unit          workout.Unit
	Prescriptions []Prescription
	Groups        []GroupStatus
	// Notes are observations about the whole week (volume balance).
	Notes []string
}

// Profile is what a user told about their training (settings); its zero
// value plans from the history alone.
type Profile struct {
	// Unit the plan prescribes in; "" for the unit of the latest workout.
	Unit workout.Unit
	// DaysPerWeek the user trains (2-6); 0 when not said. The weekly
	// targets are lowered to the sessions the days and each group's
	// recovery spacing allow, and a day holds as many exercises as the
	// targets need (MaxDaysExercises at most).
	DaysPerWeek int
	// Exercises are the catalogue and the user's own exercises, which
	// count towards their muscle group, rotate with its other exercises
	// and progress by their equipment's step.
	Exercises workout.Exercises
}

// MaxDaysExercises bounds one day's plan whatever the days per week.
const MaxDaysExercises = 5

// sessionsPerWeek is how many sessions of a group with the recovery
// spacing fit in a week of days training days spread over it: each session
// needs ceil(recovery × days / 7) training days.
func sessionsPerWeek(days, recoveryDays int) int {
	step := (recoveryDays*days + 6) / 7
	return max(1, days/max(1, step))
}

// target is a group's weekly set target for the profile: the programme's,
// lowered to the sessions of 3 sets the user's week holds.
func (pr Profile) target(rule groupRule) int {
	if pr.DaysPerWeek <= 0 {
		return rule.weeklySets
	}
	return min(rule.weeklySets, 3*sessionsPerWeek(pr.DaysPerWeek, rule.recoveryDays))
}

// perDay is the cap on a day's exercises: enough to fit the weekly
// targets into the days, with one to spare for the days that recovery
// spacing leaves fuller.
func (pr Profile) perDay() int {
	if pr.DaysPerWeek <= 0 {
		return MaxExercises
	}
	sets := 0
	for _, r := range groupRules {
		sets += pr.target(r)
	}
	slots := (sets + 2) / 3
	return min(MaxDaysExercises, max(MaxExercises, (slots+pr.DaysPerWeek-1)/pr.DaysPerWeek+1))
}

// Build computes the plan for the calendar day of date (in date's location)
// from history, which may be in any order and contain other days' and
// future entries; workouts after that day are ignored.
func Build(history []workout.Workout, date time.Time) Plan {
	return BuildFor(history, date, Profile{})
}

// BuildFor is Build for a user's profile.
func BuildFor(history []workout.Workout, date time.Time, profile Profile) Plan {
	perDay := profile.perDay()
	day := startOfDay(date)
	end := day.AddDate(0, 0, 1)
	past := make([]workout.Workout, 0, len(history))
	for _, w := range history {
		if w.PerformedAt.Before(end) {
			past = append(past, w)
		}
	}
	sortWorkouts(past)

	p := Plan{Date: day, Unit: preferredUnit(past)}
	if profile.Unit == workout.Kilograms || profile.Unit == workout.Pounds {
		p.Unit = profile.Unit
	}
	exs := profile.Exercises
	byExercise := sessionsByExercise(past, exs)

	type candidate struct {
		status GroupStatus
		rule   groupRule
		ratio  float64
	}
	var ready []candidate
	for _, g := range Groups() {
		rule := groupRules[g]
		st := GroupStatus{Group: g, TargetSets: profile.target(rule)}
		weekStart := day.AddDate(0, 0, -6)
		for _, w := range past {
			ex, ok := exs.Lookup(w.Exercise)
			if !ok || ex.Group != g {
				continue
			}
			st.LastTrained = startOfDay(w.PerformedAt.In(day.Location()))
			if !w.PerformedAt.Before(weekStart) {
				st.WeekSets += len(w.Sets)
				st.WeekVolume += fromKg(volumeKg(w), p.Unit)
			}
		}
		st.WeekVolume = math.Round(st.WeekVolume)
		switch daysSince := daysBetween(st.LastTrained, day); {
		case !st.LastTrained.IsZero() && daysSince == 0:
			st.Reason = fmt.Sprintf("already trained today (%d of %d sets this week)", st.WeekSets, st.TargetSets)
		case !st.LastTrained.IsZero() && daysSince < rule.recoveryDays:
			next := st.LastTrained.AddDate(0, 0, rule.recoveryDays)
			st.Reason = fmt.Sprintf("recovering: trained %s, needs %d days, next from %s",
				dayLabel(st.LastTrained, day), rule.recoveryDays, next.Format("Mon 2 Jan"))
		case st.WeekSets >= st.TargetSets:
			st.Reason = fmt.Sprintf("weekly volume reached: %d of %d sets in the last 7 days", st.WeekSets, st.TargetSets)
		default:
			ready = append(ready, candidate{status: st, rule: rule, ratio: float64(st.WeekSets) / float64(st.TargetSets)})
			continue
		}
		p.Groups = append(p.Groups, st)
	}

	// Furthest below the weekly target first; ties keep the fixed group order.
	sort.SliceStable(ready, func(i, j int) bool { return ready[i].ratio < ready[j].ratio })
	for i, c := range ready {
		st := c.status
		if i >= perDay {
			st.Reason = fmt.Sprintf("recovered, but today's plan is full (%d exercises); %d of %d sets this week",
				perDay, st.WeekSets, st.TargetSets)
			p.Groups = append(p.Groups, st)
			continue
		}
		ex := chooseExercise(exs, c.status.Group, c.rule, byExercise, day)
		pr := prescribe(ex, byExercise[ex.Key], day, p.Unit)
		st.Planned = true
		st.Reason = fmt.Sprintf("recovered and below the weekly target (%d of %d sets): %s",
			st.WeekSets, st.TargetSets, ex.Name)
		p.Prescriptions = append(p.Prescriptions, pr)
		p.Groups = append(p.Groups, st)
	}
	// Barbell compound lifts first, while fresh; bodyweight and timed work
	// after them.
	sort.SliceStable(p.Prescriptions, func(i, j int) bool {
		return orderRank(p.Prescriptions[i].Exercise) < orderRank(p.Prescriptions[j].Exercise)
	})
	sort.SliceStable(p.Groups, func(i, j int) bool { return groupIndex(p.Groups[i].Group) < groupIndex(p.Groups[j].Group) })
	p.Notes = balanceNotes(past, exs, day, p.Unit)
	return p
}

// Next is the prescription for one exercise on date's day, whether or not
// Build would choose it today (the log form uses it to suggest a load).
func Next(history []workout.Workout, exercise string, date time.Time) (Prescription, bool) {
	return NextFor(history, exercise, date, Profile{})
}

// NextFor is Next in the profile's unit.
func NextFor(history []workout.Workout, exercise string, date time.Time, profile Profile) (Prescription, bool) {
	ex, ok := profile.Exercises.Lookup(exercise)
	if !ok {
		return Prescription{}, false
	}
	day := startOfDay(date)
	end := day.AddDate(0, 0, 1)
	past := make([]workout.Workout, 0, len(history))
	for _, w := range history {
		if w.PerformedAt.Before(end) {
			past = append(past, w)
		}
	}
	sortWorkouts(past)
	unit := preferredUnit(past)
	if profile.Unit == workout.Kilograms || profile.Unit == workout.Pounds {
		unit = profile.Unit
	}
	return prescribe(ex, sessionsByExercise(past, profile.Exercises)[ex.Key], day, unit), true
}

// orderRank places an exercise in the day: loaded lifts, then bodyweight,
// then timed holds.
func orderRank(ex workout.Exercise) int {
	switch {
	case ex.Timed:
		return 2
	case ex.Bodyweight:
		return 1
	}
	return 0
}

func groupIndex(g workout.MuscleGroup) int {
	for i, x := range Groups() {
		if x == g {
			return i
		}
	}
	return len(Groups())
}

// chooseExercise rotates through the exercises of a group the user has done
// in the last eight weeks, least recently done first; without any, it picks
// the group's primary exercise.
func chooseExercise(exs workout.Exercises, g workout.MuscleGroup, rule groupRule, byExercise map[string][]session, day time.Time) workout.Exercise {
	var best workout.Exercise
	var bestLast time.Time
	found := false
	since := day.AddDate(0, 0, -56)
	for _, ex := range exs.All() {
		if ex.Group != g {
			continue
		}
		ss := byExercise[ex.Key]
		if len(ss) == 0 {
			continue
		}
		last := ss[len(ss)-1].at
		if last.Before(since) {
			continue
		}
		if !found || last.Before(bestLast) {
			best, bestLast, found = ex, last, true
		}
	}
	if found {
		return best
	}
	ex, _ := workout.Lookup(rule.primary)
	return ex
}

// session is one workout of one exercise, reduced to what progression needs.
type session struct {
	at time.Time
	// topKg is the session's working load in kilograms: the heaviest load
	// that enough sets (the scheme's) reached at or above, so that a top
	// single before the work sets or back-off sets after them neither
	// count as a failed session nor move the load; the heaviest set's
	// load when no load qualifies (ramping up to one top set).
	topKg float64
	// reps are the reps of every set, in order; topReps those of the sets
	// at or above the working load.
	reps    []int
	topReps []int
	unit    workout.Unit
	// bestE1RMKg is the highest estimated one-rep max among the sets.
	bestE1RMKg float64
	// maxRPE is the highest RPE among the work sets (0: none given);
	// allRated is true when every work set has one.
	maxRPE   float64
	allRated bool
}

// backOffFloor: a working load below this share of the heaviest set is a
// ramp, not the work (sets of 60, 80 and 100 kg are one set at 100).
const backOffFloor = 0.7

func sessionsByExercise(past []workout.Workout, exs workout.Exercises) map[string][]session {
	out := map[string][]session{}
	for _, w := range past {
		if len(w.Sets) == 0 {
			continue
		}
		sc := scheme{sets: 1}
		if ex, ok := exs.Lookup(w.Exercise); ok {
			sc = schemeFor(ex)
		}
		s := session{at: w.PerformedAt, unit: w.Unit}
		heaviest := 0.0
		for _, set := range w.Sets {
			kg := w.WeightKg(set)
			heaviest = max(heaviest, kg)
			s.reps = append(s.reps, set.Reps)
			if e := E1RM(kg, set.Reps); e > s.bestE1RMKg {
				s.bestE1RMKg = e
			}
		}
		s.topKg = workingLoad(w, sc, heaviest)
		s.allRated = true
		for _, set := range w.Sets {
			if w.WeightKg(set) > s.topKg-sameLoadKg {
				s.topReps = append(s.topReps, set.Reps)
				s.maxRPE = max(s.maxRPE, set.RPE)
				s.allRated = s.allRated && set.RPE > 0
			}
		}
		out[w.Exercise] = append(out[w.Exercise], s)
	}
	return out
}

// workingLoad is the heaviest set load L of w, at least backOffFloor of
// the heaviest, with sc.sets sets at or above it; heaviest when none.
func workingLoad(w workout.Workout, sc scheme, heaviest float64) float64 {
	best := -1.0
	for _, set := range w.Sets {
		kg := w.WeightKg(set)
		if kg <= best || kg < heaviest*backOffFloor-sameLoadKg {
			continue
		}
		n := 0
		for _, o := range w.Sets {
			if w.WeightKg(o) > kg-sameLoadKg {
				n++
			}
		}
		if n >= sc.sets {
			best = kg
		}
	}
	if best < 0 {
		return heaviest
	}
	return best
}

// completed reports whether s met the scheme: enough sets at its top load,
// each with at least the target reps.
func (s session) completed(sc scheme, reps int) bool {
	n := 0
	for _, r := range s.topReps {
		if r >= reps {
			n++
		}
	}
	return n >= sc.sets
}

// prescribe is the prescription for ex after sessions ss, kept within what
// a user can log: a plan that asks for what validation refuses would ask
// for it forever.
func prescribe(ex workout.Exercise, ss []session, day time.Time, unit workout.Unit) Prescription {
	return loggable(progression(ex, ss, day, unit))
}

// loggable clamps pr to the limits every logged workout satisfies, and
// says so in its reason when it had to.
func loggable(pr Prescription) Prescription {
	if limit := pr.Exercise.RepLimit(); pr.Reps > limit {
		pr.Reps = limit
		pr.Reason += fmt.Sprintf("; kept at %d %s per set, the most a set can log", limit, pr.Exercise.RepUnit())
	}
	pr.Reps = max(pr.Reps, 1)
	pr.Sets = min(max(pr.Sets, 1), workout.MaxSets)
	step := plateStep(pr.Unit)
	switch heaviest := roundLoad(workout.MaxWeightKg, pr.Unit); {
	case pr.Weight > heaviest:
		pr.Weight = heaviest
		pr.Reason += fmt.Sprintf("; kept at %s, the heaviest load the app accepts", formatLoad(heaviest, pr.Unit))
	case !pr.Exercise.Bodyweight && pr.Weight < step:
		pr.Weight = step
		pr.Reason += fmt.Sprintf("; %s is the lightest load the plan prescribes", formatLoad(step, pr.Unit))
	}
	return pr
}

func progression(ex workout.Exercise, ss []session, day time.Time, unit workout.Unit) Prescription {
	sc := schemeFor(ex)
	pr := Prescription{Exercise: ex, Sets: sc.sets, Reps: sc.reps, Unit: unit}
	if len(ss) == 0 {
		pr.Kind = Start
		if ex.Bodyweight {
			pr.Reason = fmt.Sprintf("no %s logged yet: start with %d×%d to find your level; log what you manage",
				strings.ToLower(ex.Name), sc.sets, sc.reps)
			return pr
		}
		pr.Weight = roundLoad(sc.startKg, unit)
		pr.Reason = fmt.Sprintf("no %s logged yet: start light at %s for %d×%d to learn the movement and set a baseline",
			strings.ToLower(ex.Name), formatLoad(pr.Weight, unit), sc.sets, sc.reps)
		return pr
	}
	if ex.Bodyweight {
		return prescribeReps(ex, sc, ss, day, pr)
	}
	last := ss[len(ss)-1]
	pr.E1RM = round1(fromKg(last.bestE1RMKg, unit))
	lastLoad := formatLoad(roundLoad(last.topKg, unit), unit)
	e1rm := fmt.Sprintf("estimated 1RM %s", formatLoad(pr.E1RM, unit))
	gap := daysBetween(startOfDay(last.at.In(day.Location())), day)

	switch {
	case gap >= BreakDays:
		factor := BreakFactor
		if gap >= LongBreakDays {
			factor = LongBreakFactor
		}
		pr.Kind = Restart
		pr.Weight = roundLoad(last.topKg*factor, unit)
		pr.Reason = fmt.Sprintf("last %s was %d days ago at %s: restart at %d%% (%s) and build back up",
			strings.ToLower(ex.Name), gap, lastLoad, int(math.Round(factor*100)), formatLoad(pr.Weight, unit))
	case last.completed(sc, sc.reps) && last.maxRPE >= GrindRPE:
		// Done, but at the limit: another step would likely fail.
		pr.Kind = Repeat
		pr.Weight = roundLoad(last.topKg, unit)
		pr.Reason = fmt.Sprintf("completed %d×%d at %s on %s, but at RPE %s (little or nothing left): repeat the load until it feels easier",
			sc.sets, sc.reps, lastLoad, last.at.Format("2 Jan"), formatRPE(last.maxRPE))
	case last.completed(sc, sc.reps) && last.allRated && last.maxRPE <= EasyRPE:
		pr.Kind = Progress
		inc := 2 * increment(ex, unit)
		pr.Weight = roundLoad(last.topKg, unit) + inc
		pr.Reason = fmt.Sprintf("completed %d×%d at %s on %s with reps to spare (RPE %s at most): add %s, a double step",
			sc.sets, sc.reps, lastLoad, last.at.Format("2 Jan"), formatRPE(last.maxRPE), formatLoad(inc, unit))
	case last.completed(sc, sc.reps):
		pr.Kind = Progress
		inc := increment(ex, unit)
		pr.Weight = roundLoad(last.topKg, unit) + inc
		pr.Reason = fmt.Sprintf("completed %d×%d at %s on %s (%s): add %s",
			sc.sets, sc.reps, lastLoad, last.at.Format("2 Jan"), e1rm, formatLoad(inc, unit))
	default:
		stalls := stallCount(ss, sc)
		if stalls >= StallsBeforeDeload {
			pr.Kind = Deload
			pr.Weight = roundLoad(last.topKg*DeloadFactor, unit)
			pr.Reason = fmt.Sprintf("%d sessions in a row at %s short of %d×%d (last: %s): deload %d%% to %s and build back",
				stalls, lastLoad, sc.sets, sc.reps, repsLabel(last.reps), int(math.Round((1-DeloadFactor)*100)),
				formatLoad(pr.Weight, unit))
		} else {
			pr.Kind = Repeat
			pr.Weight = roundLoad(last.topKg, unit)
			pr.Reason = fmt.Sprintf("last session at %s: reps %s against %d×%d (%s): repeat the load (stall %d of %d before a deload)",
				lastLoad, repsLabel(last.reps), sc.sets, sc.reps, e1rm, stalls, StallsBeforeDeload)
		}
	}
	return pr
}

// prescribeReps progresses a bodyweight exercise by reps; any added load
// from the last session is kept.
func prescribeReps(ex workout.Exercise, sc scheme, ss []session, day time.Time, pr Prescription) Prescription {
	last := ss[len(ss)-1]
	pr.Weight = roundLoad(last.topKg, pr.Unit)
	target := lastTarget(last, sc)
	pr.Reps = target
	gap := daysBetween(startOfDay(last.at.In(day.Location())), day)
	name := strings.ToLower(ex.Name)
	switch {
	case gap >= BreakDays:
		factor := BreakFactor
		if gap >= LongBreakDays {
			factor = LongBreakFactor
		}
		pr.Kind = Restart
		pr.Reps = max(sc.reps, int(math.Floor(float64(target)*factor)))
		pr.Reason = fmt.Sprintf("last %s was %d days ago: restart at %d reps per set and build back up", name, gap, pr.Reps)
	case last.completed(sc, target):
		pr.Kind = Progress
		pr.Reps = target + sc.repStep
		if sc.maxReps > 0 && pr.Reps > sc.maxReps {
			pr.Reps = sc.maxReps
			pr.Reason = fmt.Sprintf("completed %d×%d on %s at the rep ceiling: keep %d and add load when it feels easy",
				sc.sets, target, last.at.Format("2 Jan"), sc.maxReps)
			break
		}
		pr.Reason = fmt.Sprintf("completed %d×%d on %s: add %d per set", sc.sets, target, last.at.Format("2 Jan"), sc.repStep)
	default:
		stalls := stallCount(ss, sc)
		if stalls >= StallsBeforeDeload {
			pr.Kind = Deload
			pr.Reps = max(1, int(math.Floor(float64(target)*0.8)))
			pr.Reason = fmt.Sprintf("%d sessions in a row short of %d×%d (last: %s): deload to %d reps per set",
				stalls, sc.sets, target, repsLabel(last.reps), pr.Reps)
		} else {
			pr.Kind = Repeat
			pr.Reason = fmt.Sprintf("last session: reps %s against %d×%d: repeat (stall %d of %d before a deload)",
				repsLabel(last.reps), sc.sets, target, stalls, StallsBeforeDeload)
		}
	}
	return pr
}

// lastTarget estimates the rep target a bodyweight session aimed at: the
// most reps reached in a set, but at least the scheme's base.
func lastTarget(s session, sc scheme) int {
	best := sc.reps
	for _, r := range s.topReps {
		if r > best {
			best = r
		}
	}
	return best
}

// stallCount counts the sessions at the end of ss, at the same load as the
// last one, that fell short of the scheme.
func stallCount(ss []session, sc scheme) int {
	last := ss[len(ss)-1]
	n := 0
	for i := len(ss) - 1; i >= 0; i-- {
		s := ss[i]
		if math.Abs(s.topKg-last.topKg) >= sameLoadKg {
			break
		}
		target := sc.reps
		if sc.repStep > 0 {
			target = lastTarget(last, sc)
		}
		if s.completed(sc, target) {
			break
		}
		n++
	}
	return n
}

// balanceNotes compares push and pull, legs and posterior chain volume over
// the last four weeks.
func balanceNotes(past []workout.Workout, exs workout.Exercises, day time.Time, unit workout.Unit) []string {
	since := day.AddDate(0, 0, -27)
	sets := map[workout.MuscleGroup]int{}
	for _, w := range past {
		if w.PerformedAt.Before(since) {
			continue
		}
		if ex, ok := exs.Lookup(w.Exercise); ok {
			sets[ex.Group] += len(w.Sets)
		}
	}
	var notes []string
	pair := func(a, b workout.MuscleGroup) {
		if sets[a] == 0 && sets[b] == 0 {
			return
		}
		lo, hi := a, b
		if sets[a] > sets[b] {
			lo, hi = b, a
		}
		if float64(sets[lo]) < 0.75*float64(sets[hi]) {
			notes = append(notes, fmt.Sprintf("%s sets are %d against %d for %s over the last 4 weeks: %s is prioritised until they balance",
				lo, sets[lo], sets[hi], hi, lo))
		}
	}
	pair(workout.Push, workout.Pull)
	pair(workout.Legs, workout.Posterior)
	if len(past) == 0 {
		notes = append(notes, "no history yet: the first sessions use light starting loads; log every set so the plan can progress")
	}
	return notes
}

// E1RM estimates a one-rep max from a set with Epley's formula,
// weight × (1 + reps/30); a single is its own one-rep max.
func E1RM(weight float64, reps int) float64 {
	if reps <= 0 || weight <= 0 {
		return 0
	}
	if reps == 1 {
		return weight
	}
	return weight * (1 + float64(reps)/30)
}

func volumeKg(w workout.Workout) float64 {
	var v float64
	for _, s := range w.Sets {
		v += float64(s.Reps) * w.WeightKg(s)
	}
	return v
}

// PreferredUnit is the unit of the user's latest workout (kilograms without
// history): plans and charts are shown in it.
func PreferredUnit(history []workout.Workout) workout.Unit {
	var latest workout.Workout
	found := false
	for _, w := range history {
		if w.Unit != workout.Kilograms && w.Unit != workout.Pounds {
			continue
		}
		if !found || w.PerformedAt.After(latest.PerformedAt) ||
			(w.PerformedAt.Equal(latest.PerformedAt) && w.ID > latest.ID) {
			latest, found = w, true
		}
	}
	if !found {
		return workout.Kilograms
	}
	return latest.Unit
}

// preferredUnit is the unit of the latest workout, kilograms without history.
func preferredUnit(sorted []workout.Workout) workout.Unit {
	for i := len(sorted) - 1; i >= 0; i-- {
		if u := sorted[i].Unit; u == workout.Kilograms || u == workout.Pounds {
			return u
		}
	}
	return workout.Kilograms
}

// increment is the exercise's load step in unit, rounded to loadable plates.
func increment(ex workout.Exercise, unit workout.Unit) float64 {
	if unit == workout.Pounds {
		return math.Max(2.5, math.Round(ex.IncrementKg*workout.PoundsPerKilogram/2.5)*2.5)
	}
	return ex.IncrementKg
}

// roundLoad converts kg to unit and rounds down to the smallest plate
// step (1.25 kg or 2.5 lb), so a prescription is always loadable.
func roundLoad(kg float64, unit workout.Unit) float64 {
	step := plateStep(unit)
	// A small epsilon keeps 100 kg logged as 220.46 lb at 220 lb, not 217.5.
	return math.Floor(fromKg(kg, unit)/step+1e-3) * step
}

// plateStep is the smallest load change: a pair of the smallest common
// plates.
func plateStep(unit workout.Unit) float64 {
	if unit == workout.Pounds {
		return 2.5
	}
	return 1.25
}

// FromKg converts a kilogram figure to unit (for charts and summaries).
func FromKg(kg float64, unit workout.Unit) float64 { return fromKg(kg, unit) }

func fromKg(kg float64, unit workout.Unit) float64 {
	if unit == workout.Pounds {
		return kg * workout.PoundsPerKilogram
	}
	return kg
}

func formatLoad(v float64, unit workout.Unit) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + " " + string(unit)
}

func repsLabel(reps []int) string {
	parts := make([]string, len(reps))
	for i, r := range reps {
		parts[i] = fmt.Sprint(r)
	}
	return strings.Join(parts, ",")
}

func formatRPE(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// daysBetween counts calendar days from a to b (both at midnight).
func daysBetween(a, b time.Time) int {
	if a.IsZero() {
		return math.MaxInt32
	}
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	ua := time.Date(ay, am, ad, 0, 0, 0, 0, time.UTC)
	ub := time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC)
	return int(ub.Sub(ua).Hours() / 24)
}

func dayLabel(d, today time.Time) string {
	switch n := daysBetween(d, today); n {
	case 1:
		return "yesterday"
	default:
		return fmt.Sprintf("%d days ago", n)
	}
}

// sortWorkouts orders by time performed, then id, so equal timestamps
// still give one order.
func sortWorkouts(ws []workout.Workout) {
	sort.Slice(ws, func(i, j int) bool {
		if !ws[i].PerformedAt.Equal(ws[j].PerformedAt) {
			return ws[i].PerformedAt.Before(ws[j].PerformedAt)
		}
		return ws[i].ID < ws[j].ID
	})
}
