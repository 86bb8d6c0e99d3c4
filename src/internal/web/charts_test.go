package web

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/plan"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

func TestLineChart(t *testing.T) {
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	t.Run("one point sits in the middle", func(t *testing.T) {
		c := lineChart([]plan.Point{{Date: day, E1RM: 100}}, "e1rm", "kg")
		if len(c.Dots) != 1 || c.Dots[0].X != (chartLeft+chartW-chartRight)/2 || len(c.XLabels) != 1 {
			t.Errorf("chart %+v", c)
		}
		if c.Caption != "1 session from 2 Nov 2026 to 2 Nov 2026" {
			t.Errorf("caption %q", c.Caption)
		}
	})
	t.Run("points span the plot, higher is up", func(t *testing.T) {
		c := lineChart([]plan.Point{{Date: day, E1RM: 100}, {Date: day.AddDate(0, 0, 7), E1RM: 110}}, "e1rm", "kg")
		first, last := c.Dots[0], c.Dots[1]
		if first.X != chartLeft || last.X != chartW-chartRight {
			t.Errorf("x %v..%v, want the plot's edges", first.X, last.X)
		}
		if !(last.Y < first.Y) || first.Y > c.Y0 || last.Y < c.Y1 {
			t.Errorf("y %v then %v outside or not rising (plot %v..%v)", first.Y, last.Y, c.Y1, c.Y0)
		}
		if c.Line != "40,122.64 312,15.36" || !strings.Contains(first.Label, "2 Nov 2026: 100 kg") {
			t.Errorf("line %q, label %q", c.Line, first.Label)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if c := lineChart(nil, "e1rm", "kg"); len(c.Dots) != 0 || c.Line != "" {
			t.Errorf("chart %+v", c)
		}
	})
}

func TestBarChart(t *testing.T) {
	wk := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	c := barChart([]plan.Week{{Start: wk, Volume: 1000}, {Start: wk.AddDate(0, 0, 7)}, {Start: wk.AddDate(0, 0, 14), Volume: 500}}, "volume", "kg")
	if len(c.Bars) != 3 || c.Bars[1].H != 0 || math.Abs(c.Bars[0].H-2*c.Bars[2].H) > 0.02 {
		t.Errorf("bars %+v", c.Bars)
	}
	if c.Bars[0].Y+c.Bars[0].H != c.Y0 {
		t.Errorf("bar does not stand on the axis: %+v", c.Bars[0])
	}
	if c.Caption != "3 weeks" {
		t.Errorf("caption %q", c.Caption)
	}
}

func TestSetsLabel(t *testing.T) {
	tests := []struct {
		w    workout.Workout
		want string
	}{
		{workout.Workout{Unit: workout.Kilograms, Sets: []workout.Set{{Reps: 5, Weight: 91.25}, {Reps: 5, Weight: 91.25}}}, "2 × 5 @ 91.25 kg"},
		{workout.Workout{Unit: workout.Pounds, Sets: []workout.Set{{Reps: 5, Weight: 225}, {Reps: 3, Weight: 225}}}, "5 @ 225 lb, 3 @ 225 lb"},
		{workout.Workout{Unit: workout.Kilograms, Sets: []workout.Set{{Reps: 8}}}, "1 × 8 @ bodyweight"},
		{workout.Workout{}, ""},
	}
	for _, tt := range tests {
		if got := setsLabel(tt.w); got != tt.want {
			t.Errorf("setsLabel = %q, want %q", got, tt.want)
		}
	}
}
