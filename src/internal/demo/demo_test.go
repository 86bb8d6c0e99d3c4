package demo

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/homelab-gitops/homelab/src/internal/plan"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

func TestHistory(t *testing.T) {
	end := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	h := History("ana@example.com", end, 104)
	if n := len(h); n < 550 || n > 750 {
		t.Errorf("%d workouts for two years, want about 600", n)
	}
	seen := map[string]bool{}
	units := map[workout.Unit]int{}
	for _, w := range h {
		if err := w.Validate(end); err != nil {
			t.Fatalf("invalid demo workout %+v: %v", w, err)
		}
		if seen[w.ID] {
			t.Fatalf("duplicate id %s", w.ID)
		}
		seen[w.ID] = true
		units[w.Unit]++
		if !w.PerformedAt.Before(end) {
			t.Fatalf("workout on or after the end: %s", w.PerformedAt)
		}
	}
	if units[workout.Pounds] == 0 || units[workout.Kilograms] == 0 {
		t.Errorf("units = %v, want both", units)
	}
	if diff := cmp.Diff(h, History("ana@example.com", end, 104)); diff != "" {
		t.Errorf("not deterministic:\n%s", diff)
	}
	if other := History("bo@example.com", end, 104); other[0].ID == h[0].ID {
		t.Error("two users share ids")
	}
	p := plan.Build(h, end)
	if len(p.Prescriptions) == 0 {
		t.Fatal("no plan from the demo history")
	}
	for _, pr := range p.Prescriptions {
		if pr.Kind == plan.Start {
			t.Errorf("%s starts from scratch after two years of history", pr.Exercise.Key)
		}
	}
}
