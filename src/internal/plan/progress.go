package plan

import (
	"math"
	"sort"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Point is one session's best estimated one-rep max.
type Point struct {
	Date time.Time
	// E1RM is in the series' unit; for bodyweight exercises it is the most
	// reps (seconds for a timed one) in a set: without the user's
	// bodyweight there is no one-rep max to estimate.
	E1RM float64
	// AddedLoad is, for a bodyweight exercise, the load added to that best
	// set in the series' unit (0: bodyweight alone).
	AddedLoad float64
}

// Week is one ISO-like week's volume (Monday start): sum of reps × load,
// or of reps (seconds) for bodyweight exercises, with or without added
// load.
type Week struct {
	Start  time.Time
	Volume float64
}

// Series is the progress of one exercise over time.
type Series struct {
	Exercise workout.Exercise
	Unit     workout.Unit
	Points   []Point
	Weeks    []Week
}

// Trends returns one series per exercise in history (catalogue order),
// converted to unit, by calendar day and week in loc (the user's time
// zone). Weeks without training inside a series' span appear with zero
// volume, so a chart shows the gaps.
func Trends(history []workout.Workout, exs workout.Exercises, unit workout.Unit, loc *time.Location) []Series {
	ws := append([]workout.Workout(nil), history...)
	for i := range ws {
		ws[i].PerformedAt = ws[i].PerformedAt.In(loc)
	}
	sortWorkouts(ws)
	byEx := map[string][]workout.Workout{}
	for _, w := range ws {
		byEx[w.Exercise] = append(byEx[w.Exercise], w)
	}
	var out []Series
	for _, ex := range exs.All() {
		list := byEx[ex.Key]
		if len(list) == 0 {
			continue
		}
		s := Series{Exercise: ex, Unit: unit}
		weeks := map[time.Time]float64{}
		for _, w := range list {
			var best, added, vol float64
			for _, set := range w.Sets {
				kg := w.WeightKg(set)
				if ex.Bodyweight {
					reps, load := float64(set.Reps), round1(fromKg(kg, unit))
					if reps > best || (reps == best && load > added) {
						best, added = reps, load
					}
					vol += reps
					continue
				}
				best = math.Max(best, fromKg(E1RM(kg, set.Reps), unit))
				vol += float64(set.Reps) * fromKg(kg, unit)
			}
			day := startOfDay(w.PerformedAt)
			s.Points = append(s.Points, Point{Date: day, E1RM: round1(best), AddedLoad: added})
			weeks[weekStart(day)] += vol
		}
		first := weekStart(startOfDay(list[0].PerformedAt))
		last := weekStart(startOfDay(list[len(list)-1].PerformedAt))
		for wk := first; !wk.After(last); wk = wk.AddDate(0, 0, 7) {
			s.Weeks = append(s.Weeks, Week{Start: wk, Volume: math.Round(weeks[wk])})
		}
		sort.SliceStable(s.Points, func(i, j int) bool { return s.Points[i].Date.Before(s.Points[j].Date) })
		out = append(out, s)
	}
	return out
}

func weekStart(day time.Time) time.Time {
	offset := (int(day.Weekday()) + 6) % 7 // Monday = 0
	return day.AddDate(0, 0, -offset)
}
