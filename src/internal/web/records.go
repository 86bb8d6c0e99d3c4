package web

import (
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/homelab-gitops/homelab/src/internal/plan"
	"github.com/homelab-gitops/homelab/src/internal/records"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// recordLabel says a record in words, loads in unit (a heaviest set as
// logged).
func recordLabel(exs workout.Exercises, r records.Record, unit workout.Unit) string {
	switch r.Kind {
	case records.E1RM:
		return "estimated 1RM " + trimFloat(math.Round(plan.FromKg(r.Value, unit)*2)/2) + " " + string(unit) +
			fmt.Sprintf(" (%d × %s %s)", r.Set.Reps, trimFloat(r.Set.Weight), r.Unit)
	case records.Heaviest:
		what := "heaviest"
		if ex, ok := exs.Lookup(r.Exercise); ok && ex.Bodyweight {
			what = "most added load for"
		}
		return fmt.Sprintf("%s %s: %s %s", what, plural(r.Reps, "rep"), trimFloat(r.Set.Weight), r.Unit)
	case records.MostReps:
		return fmt.Sprintf("most reps in a set: %d", r.Set.Reps)
	case records.LongestHold:
		return fmt.Sprintf("longest hold: %d s", r.Set.Reps)
	}
	return string(r.Kind)
}

// brokenLabel lists the records a workout broke, for its badge.
func brokenLabel(exs workout.Exercises, rs []records.Record, unit workout.Unit) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = recordLabel(exs, r, unit)
	}
	return "Personal record: " + strings.Join(parts, "; ")
}

type exerciseRecords struct {
	Key, Name string
	Records   []recordRow
}

type recordRow struct {
	Label     string
	WorkoutID string
	Day       string
}

func (s *Server) recordsPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Records", "records")
	h := s.history(r.Context(), p.User, HistoryQuery{})
	p.Stale, p.AsOf = h.Stale, h.AsOf
	if !h.Unknown() {
		unit := plan.PreferredUnit(h.Workouts)
		res := records.Find(h.Workouts, p.known)
		for _, rec := range res.Best {
			if len(p.Records) == 0 || p.Records[len(p.Records)-1].Key != rec.Exercise {
				p.Records = append(p.Records, exerciseRecords{Key: rec.Exercise, Name: p.ExerciseName(rec.Exercise)})
			}
			last := &p.Records[len(p.Records)-1]
			last.Records = append(last.Records, recordRow{Label: recordLabel(p.known, rec, unit), WorkoutID: rec.WorkoutID, Day: p.Day(rec.PerformedAt)})
		}
	}
	s.render(w, r, http.StatusOK, "records.html", p)
}

type apiRecords struct {
	Records []records.Record `json:"records"`
	// Broken maps a workout id to the records it broke when it was logged.
	Broken map[string][]records.Record `json:"broken"`
	Stale  bool                        `json:"stale"`
}

func (s *Server) apiRecords(w http.ResponseWriter, r *http.Request) {
	h := s.history(r.Context(), identity(r).UserID, HistoryQuery{})
	if h.Unknown() {
		s.retryAfter(w)
		w.Header().Set(StaleHeader, "true")
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "your history could not be read yet; retry later"})
		return
	}
	res := records.Find(h.Workouts, s.profile(r.Context(), identity(r).UserID).Known())
	out := apiRecords{Records: res.Best, Broken: res.Broken, Stale: h.Stale}
	if out.Records == nil {
		out.Records = []records.Record{}
	}
	if h.Stale {
		w.Header().Set(StaleHeader, "true")
	}
	writeJSON(w, http.StatusOK, out)
}
