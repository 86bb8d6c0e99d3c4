package web

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/plan"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

var kgText = chartText{title: "Estimated 1RM (kg)", axis: "1RM, kg", value: loadValue("kg")}

func TestLineChart(t *testing.T) {
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	t.Run("one point sits in the middle", func(t *testing.T) {
		c := lineChart([]plan.Point{{Date: day, E1RM: 100}}, kgText)
		if len(c.Dots) != 1 || c.Dots[0].X != (chartLeft+chartW-chartRight)/2 || len(c.XLabels) != 1 {
			t.Errorf("chart %+v", c)
		}
	})
	t.Run("points span the plot, higher is up", func(t *testing.T) {
		c := lineChart([]plan.Point{{Date: day, E1RM: 100}, {Date: day.AddDate(0, 0, 7), E1RM: 110}}, kgText)
		first, last := c.Dots[0], c.Dots[1]
		if first.X != chartLeft || last.X != chartW-chartRight {
			t.Errorf("x %v..%v, want the plot's edges", first.X, last.X)
		}
		if !(last.Y < first.Y) || first.Y > c.Y0 || last.Y < c.Y1 {
			t.Errorf("y %v then %v outside or not rising (plot %v..%v)", first.Y, last.Y, c.Y1, c.Y0)
		}
		if c.Line != "52,144 310,10" || !strings.Contains(first.Label, "2 Nov 2026: 100 kg") {
			t.Errorf("line %q, label %q", c.Line, first.Label)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if c := lineChart(nil, kgText); len(c.Dots) != 0 || c.Line != "" {
			t.Errorf("chart %+v", c)
		}
	})
}

func TestBarChart(t *testing.T) {
	wk := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	c := barChart([]plan.Week{{Start: wk, Volume: 1000}, {Start: wk.AddDate(0, 0, 7)}, {Start: wk.AddDate(0, 0, 14), Volume: 500}}, kgText)
	if len(c.Bars) != 3 || c.Bars[1].H != 0 || math.Abs(c.Bars[0].H-2*c.Bars[2].H) > 0.02 {
		t.Errorf("bars %+v", c.Bars)
	}
	if c.Bars[0].Y+c.Bars[0].H != c.Y0 {
		t.Errorf("bar does not stand on the axis: %+v", c.Bars[0])
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
		if got := setsLabel(workout.Exercises{}, tt.w); got != tt.want {
			t.Errorf("setsLabel = %q, want %q", got, tt.want)
		}
	}
}

// niceStep reports whether v is 1, 2 or 5 times a power of ten.
func niceStep(v float64) bool {
	if v <= 0 {
		return false
	}
	m := v / math.Pow(10, math.Floor(math.Log10(v)+1e-9))
	for _, n := range []float64{1, 2, 5, 10} {
		if math.Abs(m-n) < 1e-6 {
			return true
		}
	}
	return false
}

// TestChartTicksAreRound: ticks are round numbers 1-2-5 steps apart, the
// axis ends on ticks, and a point sits exactly on the line labelled with
// its value.
func TestChartTicksAreRound(t *testing.T) {
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	pts := []plan.Point{{Date: day, E1RM: 100}, {Date: day.AddDate(0, 0, 3), E1RM: 103.3}, {Date: day.AddDate(0, 0, 7), E1RM: 117.5}}
	weeks := []plan.Week{{Start: day, Volume: 1234}, {Start: day.AddDate(0, 0, 7), Volume: 4321}}
	for _, c := range []chart{lineChart(pts, kgText), barChart(weeks, kgText)} {
		if len(c.YTicks) < 3 {
			t.Fatalf("%s: ticks %+v", c.Kind, c.YTicks)
		}
		var vals []float64
		for _, tk := range c.YTicks {
			v, err := strconv.ParseFloat(strings.ReplaceAll(tk.Label, ",", ""), 64)
			if err != nil {
				t.Fatalf("%s: tick label %q is not a number", c.Kind, tk.Label)
			}
			vals = append(vals, v)
		}
		step := vals[1] - vals[0]
		for i := 1; i < len(vals); i++ {
			if math.Abs(vals[i]-vals[i-1]-step) > 1e-9 {
				t.Errorf("%s: uneven ticks %v", c.Kind, vals)
			}
		}
		if !niceStep(step) {
			t.Errorf("%s: tick step %v is not 1, 2 or 5 × 10^n (ticks %v)", c.Kind, step, vals)
		}
		if c.YTicks[0].Y != c.Y0 || c.YTicks[len(c.YTicks)-1].Y != c.Y1 {
			t.Errorf("%s: axis %v..%v does not end on ticks %+v", c.Kind, c.Y0, c.Y1, c.YTicks)
		}
	}
	c := lineChart(pts, kgText)
	for _, tk := range c.YTicks {
		if tk.Label == "100" && tk.Y != c.Dots[0].Y {
			t.Errorf("the point of 100 kg is at y=%v, the line labelled 100 at y=%v", c.Dots[0].Y, tk.Y)
		}
	}
}

// TestChartsShareTheirWindow: both charts of an exercise cover the same
// weeks and say which; axes have titles with units; text is large enough
// to read once the chart is scaled to a phone's width.
func TestChartsShareTheirWindow(t *testing.T) {
	var ws []workout.Workout
	start := time.Date(2025, 1, 6, 18, 0, 0, 0, time.UTC) // a Monday
	for i := range 200 {
		ws = append(ws, sample(i, 0, "back-squat", 60+float64(i%10), 5, 5, 5))
		ws[i].PerformedAt = start.AddDate(0, 0, 3*i)
	}
	ec := buildCharts(plan.Trends(ws, workout.Exercises{}, workout.Kilograms, time.UTC))[0]
	first, last := ec.E1RM.Dots[0], ec.E1RM.Dots[len(ec.E1RM.Dots)-1]
	weekOf := func(label string) string { return strings.SplitN(label, ":", 2)[0] }
	if ec.Window == "" || !strings.Contains(ec.E1RM.Caption, ec.Window) || !strings.Contains(ec.Volume.Caption, ec.Window) {
		t.Errorf("window %q, captions %q and %q", ec.Window, ec.E1RM.Caption, ec.Volume.Caption)
	}
	firstDay, _ := time.Parse("2 Jan 2006", weekOf(first.Label))
	firstWeek, _ := time.Parse("2 Jan 2006", strings.TrimPrefix(weekOf(ec.Volume.Bars[0].Label), "week of "))
	if firstDay.Before(firstWeek) || firstDay.Sub(firstWeek) >= 7*24*time.Hour {
		t.Errorf("the 1RM chart starts on %s, the volume chart in the week of %s", weekOf(first.Label), firstWeek.Format("2 Jan 2006"))
	}
	if !strings.Contains(last.Label, ws[len(ws)-1].PerformedAt.Format("2 Jan 2006")) {
		t.Errorf("the last point %q is not the last session", last.Label)
	}
	for _, c := range []chart{ec.E1RM, ec.Volume} {
		if !strings.Contains(c.YTitle, "kg") || c.XTitle == "" {
			t.Errorf("%s: axis titles %q, %q", c.Kind, c.XTitle, c.YTitle)
		}
	}
	// At 390 px a chart is about 325 px wide: 11 px text needs 11 units.
	if chartFontSize*325/chartW < 11 {
		t.Errorf("tick text %v units in a %v-unit chart is under 11 px on a phone", chartFontSize, chartW)
	}
}

// TestWeightedBodyweightChart: a pull-up with 25 lb added is charted as
// reps with the added load named, not as a 1RM of the plate.
func TestWeightedBodyweightChart(t *testing.T) {
	w := sample(1, 1, "pull-up", 25, 5, 5, 4)
	w.Unit = workout.Pounds
	ec := buildCharts(plan.Trends([]workout.Workout{w}, workout.Exercises{}, workout.Pounds, time.UTC))[0]
	if !strings.Contains(ec.E1RM.Title, "reps") || !strings.Contains(ec.E1RM.Dots[0].Label, "5 reps +25 lb") {
		t.Errorf("title %q, point %q", ec.E1RM.Title, ec.E1RM.Dots[0].Label)
	}
	if !strings.HasPrefix(ec.Latest, "best set 5 reps +25 lb on ") {
		t.Errorf("latest %q", ec.Latest)
	}
	for _, tk := range ec.E1RM.YTicks {
		if strings.Contains(tk.Label, ".") {
			t.Errorf("a rep count tick of %s", tk.Label)
		}
	}
	if got := e1rmLabel(workout.Exercises{}, w); got != "" {
		t.Errorf("history shows an estimated 1RM %q for a pull-up", got)
	}
}
