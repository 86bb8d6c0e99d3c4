package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/plan"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Chart geometry (SVG user units; CSS scales the SVG to the page width).
const (
	chartW      = 320.0
	chartH      = 150.0
	chartLeft   = 40.0
	chartRight  = 8.0
	chartTop    = 10.0
	chartBottom = 22.0
	// chartPoints and chartWeeks bound what one chart draws.
	chartPoints = 120
	chartWeeks  = 26
)

type chartDot struct {
	X, Y  float64
	Label string
}

type chartBar struct {
	X, Y, W, H float64
	Label      string
}

type chartTick struct {
	Y     float64
	Label string
}

type chartXLabel struct {
	X     float64
	Label string
	// Anchor is the SVG text-anchor value.
	Anchor string
}

// chart is one SVG chart, computed here so the template only draws.
type chart struct {
	Kind    string // "e1rm" or "volume"
	Title   string
	Caption string
	ViewBox string
	Line    string
	Dots    []chartDot
	Bars    []chartBar
	YTicks  []chartTick
	XLabels []chartXLabel
	// Plot area, for the axis lines.
	X0, X1, Y0, Y1 float64
}

// exerciseCharts are the two charts of one exercise.
type exerciseCharts struct {
	Key    string
	Name   string
	E1RM   chart
	Volume chart
	Latest string
}

func buildCharts(series []plan.Series) []exerciseCharts {
	out := make([]exerciseCharts, 0, len(series))
	for _, s := range series {
		bw := s.Exercise.Bodyweight
		unit := string(s.Unit)
		e1Title, volTitle, volUnit := "Estimated 1RM ("+unit+")", "Weekly volume ("+unit+" × reps)", unit
		if bw {
			e1Title, volTitle, volUnit = "Best set (reps)", "Weekly reps", "reps"
			unit = "reps"
		}
		ec := exerciseCharts{Key: s.Exercise.Key, Name: s.Exercise.Name}
		pts := s.Points
		if len(pts) > chartPoints {
			pts = pts[len(pts)-chartPoints:]
		}
		ec.E1RM = lineChart(pts, e1Title, unit)
		weeks := s.Weeks
		if len(weeks) > chartWeeks {
			weeks = weeks[len(weeks)-chartWeeks:]
		}
		ec.Volume = barChart(weeks, volTitle, volUnit)
		if len(pts) > 0 {
			last := pts[len(pts)-1]
			ec.Latest = fmt.Sprintf("%s %s on %s", trimFloat(last.E1RM), unit, last.Date.Format("2 Jan 2006"))
		}
		out = append(out, ec)
	}
	return out
}

func lineChart(pts []plan.Point, title, unit string) chart {
	c := chart{Kind: "e1rm", Title: title, ViewBox: fmt.Sprintf("0 0 %g %g", chartW, chartH),
		X0: chartLeft, X1: chartW - chartRight, Y0: chartH - chartBottom, Y1: chartTop}
	if len(pts) == 0 {
		return c
	}
	lo, hi := pts[0].E1RM, pts[0].E1RM
	for _, p := range pts {
		lo, hi = math.Min(lo, p.E1RM), math.Max(hi, p.E1RM)
	}
	lo, hi = padRange(lo, hi)
	first, last := pts[0].Date, pts[len(pts)-1].Date
	span := last.Sub(first).Hours()
	x := func(t time.Time) float64 {
		if span == 0 {
			return (c.X0 + c.X1) / 2
		}
		return c.X0 + (c.X1-c.X0)*t.Sub(first).Hours()/span
	}
	y := func(v float64) float64 { return c.Y0 - (c.Y0-c.Y1)*(v-lo)/(hi-lo) }
	var line strings.Builder
	for i, p := range pts {
		px, py := round2(x(p.Date)), round2(y(p.E1RM))
		if i > 0 {
			line.WriteByte(' ')
		}
		fmt.Fprintf(&line, "%g,%g", px, py)
		c.Dots = append(c.Dots, chartDot{X: px, Y: py, Label: fmt.Sprintf("%s: %s %s", p.Date.Format("2 Jan 2006"), trimFloat(p.E1RM), unit)})
	}
	c.Line = line.String()
	c.YTicks = ticks(lo, hi, y)
	c.XLabels = []chartXLabel{{X: c.X0, Label: first.Format("2 Jan 06"), Anchor: "start"}}
	if span > 0 {
		c.XLabels = append(c.XLabels, chartXLabel{X: c.X1, Label: last.Format("2 Jan 06"), Anchor: "end"})
	}
	c.Caption = fmt.Sprintf("%s from %s to %s", plural(len(pts), "session"), first.Format("2 Jan 2006"), last.Format("2 Jan 2006"))
	return c
}

func barChart(weeks []plan.Week, title, unit string) chart {
	c := chart{Kind: "volume", Title: title, ViewBox: fmt.Sprintf("0 0 %g %g", chartW, chartH),
		X0: chartLeft, X1: chartW - chartRight, Y0: chartH - chartBottom, Y1: chartTop}
	if len(weeks) == 0 {
		return c
	}
	hi := 0.0
	for _, w := range weeks {
		hi = math.Max(hi, w.Volume)
	}
	if hi == 0 {
		hi = 1
	}
	hi *= 1.1
	y := func(v float64) float64 { return c.Y0 - (c.Y0-c.Y1)*v/hi }
	slot := (c.X1 - c.X0) / float64(len(weeks))
	for i, w := range weeks {
		top := y(w.Volume)
		c.Bars = append(c.Bars, chartBar{
			X: round2(c.X0 + slot*float64(i) + slot*0.15), Y: round2(top),
			W: round2(slot * 0.7), H: round2(c.Y0 - top),
			Label: fmt.Sprintf("week of %s: %s %s", w.Start.Format("2 Jan 2006"), trimFloat(w.Volume), unit),
		})
	}
	c.YTicks = ticks(0, hi, y)
	c.XLabels = []chartXLabel{{X: c.X0, Label: weeks[0].Start.Format("2 Jan 06"), Anchor: "start"}}
	if len(weeks) > 1 {
		c.XLabels = append(c.XLabels, chartXLabel{X: c.X1, Label: weeks[len(weeks)-1].Start.Format("2 Jan 06"), Anchor: "end"})
	}
	c.Caption = plural(len(weeks), "week")
	return c
}

// padRange widens [lo, hi] by 5% (or to ±1 around a flat line).
func padRange(lo, hi float64) (float64, float64) {
	if hi-lo < 1e-9 {
		return lo - 1, hi + 1
	}
	pad := (hi - lo) * 0.05
	return lo - pad, hi + pad
}

func ticks(lo, hi float64, y func(float64) float64) []chartTick {
	out := make([]chartTick, 0, 3)
	for _, v := range []float64{lo, (lo + hi) / 2, hi} {
		out = append(out, chartTick{Y: round2(y(v)), Label: trimFloat(math.Round(v))})
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// trimFloat formats v with at most two decimals and no trailing zeros
// (91.25, 102.5, 100).
func trimFloat(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// setsLabel summarises sets for the history table, e.g. "5, 5, 3 × 100 kg"
// or "3 × 5 × 100 kg".
func setsLabel(w workout.Workout) string {
	if len(w.Sets) == 0 {
		return ""
	}
	same := true
	for _, s := range w.Sets[1:] {
		if s.Reps != w.Sets[0].Reps || s.Weight != w.Sets[0].Weight {
			same = false
		}
	}
	load := func(x float64) string {
		if x == 0 {
			return "bodyweight"
		}
		return trimFloat(x) + " " + string(w.Unit)
	}
	if same {
		return fmt.Sprintf("%d × %d @ %s", len(w.Sets), w.Sets[0].Reps, load(w.Sets[0].Weight))
	}
	parts := make([]string, len(w.Sets))
	for i, s := range w.Sets {
		parts[i] = fmt.Sprintf("%d @ %s", s.Reps, load(s.Weight))
	}
	return strings.Join(parts, ", ")
}
