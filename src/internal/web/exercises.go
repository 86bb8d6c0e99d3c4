package web

import (
	"net/http"

	"github.com/homelab-gitops/homelab/src/internal/plan"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// exerciseGroup is one muscle group's exercises, for the forms' choices.
type exerciseGroup struct {
	Group     string
	Exercises []workout.Exercise
}

// groupedCatalogue is the catalogue by muscle group, in the plan's order.
func groupedCatalogue() []exerciseGroup {
	var out []exerciseGroup
	for _, g := range plan.Groups() {
		eg := exerciseGroup{Group: string(g)}
		for _, ex := range workout.Catalogue() {
			if ex.Group == g {
				eg.Exercises = append(eg.Exercises, ex)
			}
		}
		out = append(out, eg)
	}
	return out
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
