package web

import (
	"fmt"
	"net/http"

	"github.com/homelab-gitops/homelab/src/internal/plan"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// exerciseGroup is one muscle group's exercises, for the forms' choices.
type exerciseGroup struct {
	Group     string
	Exercises []workout.Exercise
}

// groupedCatalogue is the catalogue by muscle group, in the plan's order,
// with the user's own exercises last in their groups.
func groupedCatalogue(custom ...store.CustomExercise) []exerciseGroup {
	var out []exerciseGroup
	for _, g := range plan.Groups() {
		eg := exerciseGroup{Group: string(g)}
		for _, ex := range workout.Catalogue() {
			if ex.Group == g {
				eg.Exercises = append(eg.Exercises, ex)
			}
		}
		for _, c := range custom {
			if c.Group == g {
				eg.Exercises = append(eg.Exercises, c.Exercise())
			}
		}
		out = append(out, eg)
	}
	return out
}

// Limits of a user's own exercises.
const (
	MaxCustomExercises = 30
	maxCustomName      = 40
)

// customErrors checks w against the user's own exercises: a custom key must
// be one of theirs, and a set of one that counts reps stays within MaxReps
// (the consumer, which does not know the definitions, allows seconds).
func customErrors(custom []store.CustomExercise, w workout.Workout) workout.FieldErrors {
	if !workout.IsCustomKey(w.Exercise) {
		return nil
	}
	for _, c := range custom {
		if c.Key != w.Exercise {
			continue
		}
		fe := workout.FieldErrors{}
		for i, s := range w.Sets {
			if !c.Timed && s.Reps > workout.MaxReps {
				fe[fmt.Sprintf("rows[%d].reps", i)] = fmt.Sprintf("must be between 1 and %d", workout.MaxReps)
			}
		}
		if len(fe) == 0 {
			return nil
		}
		return fe
	}
	return workout.FieldErrors{"exercise": "unknown exercise; choose one from the list"}
}

type apiExercise struct {
	Key        string `json:"key"`
	Name       string `json:"name"`
	Group      string `json:"group"`
	Equipment  string `json:"equipment"`
	Bodyweight bool   `json:"bodyweight"`
	Timed      bool   `json:"timed"`
	// MaxReps is the most one set may count (seconds for a timed one).
	MaxReps int `json:"max_reps"`
}

// apiExercises lists the catalogue: what "exercise" may be.
func (s *Server) apiExercises(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Exercises []apiExercise `json:"exercises"`
	}{}
	for _, g := range groupedCatalogue() {
		for _, ex := range g.Exercises {
			out.Exercises = append(out.Exercises, apiExercise{Key: ex.Key, Name: ex.Name, Group: string(ex.Group),
				Equipment: string(ex.Equipment), Bodyweight: ex.Bodyweight, Timed: ex.Timed, MaxReps: ex.RepLimit()})
		}
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, out)
}
