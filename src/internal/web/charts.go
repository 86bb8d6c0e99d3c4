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

// Chart geometry (SVG user units; CSS scales the SVG to the page width,
// about 325 px on a 390 px phone, so a unit is about a pixel there).
const (
	chartW      = 320.0
	chartH      = 180.0
	chartLeft   = 52.0
	chartRight  = 10.0
	chartTop    = 10.0
	chartBottom = 36.0
	// chartFontSize is the size of every label: 12 px on a phone.
	chartFontSize = 12.0
	// chartWeeks bounds the window both charts of an exercise cover,
	// chartPoints the sessions one chart draws.
	chartWeeks  = 26
	chartPoints = 120
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
	Kind     string // "e1rm" or "volume"
	Title    string
	Caption  string
	ViewBox  string
	FontSize float64
	Line     string
	Dots     []chartDot
	Bars     []chartBar
	YTicks   []chartTick
	XLabels  []chartXLabel
	// XTitle and YTitle name the axes, with units.
	XTitle, YTitle string
	// Plot area, for the axis lines.
	X0, X1, Y0, Y1 float64
}

// YTitleY is where the rotated y-axis title is centred.
func (c chart) YTitleY() float64 { return round2((c.Y0 + c.Y1) / 2) }

// XMid is the middle of the x axis, where its title is centred.
func (c chart) XMid() float64 { return round2((c.X0 + c.X1) / 2) }

// XTitleY is the baseline of the x-axis title, under the date labels.
func (c chart) XTitleY() float64 { return c.Y0 + 2.4*chartFontSize }

// exerciseCharts are the two charts of one exercise, over one window.
type exerciseCharts struct {
	Key    string
	Name   string
	E1RM   chart
	Volume chart
	Latest string
	// Window is the period both charts cover, e.g. "2 Jun 2026 – 4 Dec 2026".
	Window string
}

func buildCharts(series []plan.Series) []exerciseCharts {
	out := make([]exerciseCharts, 0, len(series))
	for _, s := range series {
		ec := exerciseCharts{Key: s.Exercise.Key, Name: s.Exercise.Name}
		weeks, pts := chartWindow(s.Weeks, s.Points)
		if len(pts) == 0 {
			continue
		}
		last := pts[len(pts)-1]
		ec.Window = weeks[0].Start.Format("2 Jan 2006") + " – " + last.Date.Format("2 Jan 2006")
		unit := string(s.Unit)
		var e1, vol chartText
		latest := "estimated 1RM "
		if s.Exercise.Bodyweight {
			what := s.Exercise.RepUnit()
			if what == "s" {
				what = "seconds"
			}
			latest = "best set "
			e1 = chartText{title: "Best set (" + what + ")", axis: what, value: bodyweightValue(s.Exercise, s.Unit), counts: true}
			vol = chartText{title: "Weekly " + what, axis: what, value: countValue(what), counts: true}
		} else {
			e1 = chartText{title: "Estimated 1RM (" + unit + ")", axis: "1RM, " + unit, value: loadValue(unit)}
			vol = chartText{title: "Weekly volume (" + unit + " × reps)", axis: unit + " × reps", value: loadValue(unit)}
		}
		ec.E1RM = lineChart(pts, e1)
		ec.E1RM.Caption = fmt.Sprintf("%s, %s", plural(len(pts), "session"), ec.Window)
		ec.Volume = barChart(weeks, vol)
		ec.Volume.Caption = fmt.Sprintf("%s, %s", plural(len(weeks), "week"), ec.Window)
		ec.Latest = latest + e1.value(last) + " on " + last.Date.Format("2 Jan 2006")
		out = append(out, ec)
	}
	return out
}

// chartWindow keeps the last chartWeeks weeks and the sessions in them (at
// most chartPoints, the weeks then starting with the first kept), so that
// both charts of an exercise cover the same period.
func chartWindow(weeks []plan.Week, pts []plan.Point) ([]plan.Week, []plan.Point) {
	if len(weeks) > chartWeeks {
		weeks = weeks[len(weeks)-chartWeeks:]
	}
	if len(weeks) == 0 {
		return nil, nil
	}
	from := weeks[0].Start
	i := 0
	for i < len(pts) && pts[i].Date.Before(from) {
		i++
	}
	pts = pts[i:]
	if len(pts) > chartPoints {
		pts = pts[len(pts)-chartPoints:]
		for len(weeks) > 1 && !weeks[1].Start.After(pts[0].Date) {
			weeks = weeks[1:]
		}
	}
	return weeks, pts
}

// chartText is what a chart says about its values.
type chartText struct {
	title, axis string
	value       func(plan.Point) string
	// counts: the values are whole numbers (reps, seconds), so are ticks.
	counts bool
}

func loadValue(unit string) func(plan.Point) string {
	return func(p plan.Point) string { return trimFloat(p.E1RM) + " " + unit }
}

func countValue(what string) func(plan.Point) string {
	return func(p plan.Point) string { return trimFloat(p.E1RM) + " " + what }
}

// bodyweightValue names a bodyweight set: its reps (seconds) and any
// added load, e.g. "5 reps +25 lb".
func bodyweightValue(ex workout.Exercise, unit workout.Unit) func(plan.Point) string {
	return func(p plan.Point) string {
		v := trimFloat(p.E1RM) + " " + ex.RepUnit()
		if p.AddedLoad > 0 {
			v += " +" + trimFloat(p.AddedLoad) + " " + string(unit)
		}
		return v
	}
}

func newChart(kind string, txt chartText, xTitle string) chart {
	return chart{Kind: kind, Title: txt.title, ViewBox: fmt.Sprintf("0 0 %g %g", chartW, chartH), FontSize: chartFontSize,
		XTitle: xTitle, YTitle: txt.axis,
		X0: chartLeft, X1: chartW - chartRight, Y0: chartH - chartBottom, Y1: chartTop}
}

func lineChart(pts []plan.Point, txt chartText) chart {
	c := newChart("e1rm", txt, "Session date")
	if len(pts) == 0 {
		return c
	}
	lo, hi := pts[0].E1RM, pts[0].E1RM
	for _, p := range pts {
		lo, hi = math.Min(lo, p.E1RM), math.Max(hi, p.E1RM)
	}
	lo, hi, step := niceScale(lo, hi, txt.counts)
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
		c.Dots = append(c.Dots, chartDot{X: px, Y: py, Label: p.Date.Format("2 Jan 2006") + ": " + txt.value(p)})
	}
	c.Line = line.String()
	c.YTicks = ticks(lo, hi, step, y)
	c.XLabels = []chartXLabel{{X: c.X0, Label: first.Format("2 Jan 06"), Anchor: "start"}}
	if span > 0 {
		c.XLabels = append(c.XLabels, chartXLabel{X: c.X1, Label: last.Format("2 Jan 06"), Anchor: "end"})
	}
	return c
}

func barChart(weeks []plan.Week, txt chartText) chart {
	c := newChart("volume", txt, "Week starting")
	if len(weeks) == 0 {
		return c
	}
	hi := 0.0
	for _, w := range weeks {
		hi = math.Max(hi, w.Volume)
	}
	lo, hi, step := niceScale(0, math.Max(hi, 1), txt.counts)
	y := func(v float64) float64 { return c.Y0 - (c.Y0-c.Y1)*(v-lo)/(hi-lo) }
	slot := (c.X1 - c.X0) / float64(len(weeks))
	for i, w := range weeks {
		top := round2(y(w.Volume))
		c.Bars = append(c.Bars, chartBar{
			X: round2(c.X0 + slot*float64(i) + slot*0.15), Y: top,
			W: round2(slot * 0.7), H: round2(c.Y0 - top),
			Label: fmt.Sprintf("week of %s: %s %s", w.Start.Format("2 Jan 2006"), trimFloat(w.Volume), txt.axis),
		})
	}
	c.YTicks = ticks(lo, hi, step, y)
	c.XLabels = []chartXLabel{{X: c.X0, Label: weeks[0].Start.Format("2 Jan 06"), Anchor: "start"}}
	if len(weeks) > 1 {
		c.XLabels = append(c.XLabels, chartXLabel{X: c.X1, Label: weeks[len(weeks)-1].Start.Format("2 Jan 06"), Anchor: "end"})
	}
	return c
}

// niceScale widens [lo, hi] to multiples of a step of 1, 2 or 5 × 10^n
// that gives three to six ticks, so that every tick is a round number and
// the axis ends on one; whole numbers only for counts. A flat series gets
// a step on either side.
func niceScale(lo, hi float64, counts bool) (float64, float64, float64) {
	if hi-lo < 1e-9 {
		lo, hi = lo-1, hi+1
	}
	raw := (hi - lo) / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw-1e-9 {
			step = m * mag
			break
		}
	}
	if counts {
		step = math.Max(step, 1)
	}
	return math.Floor(lo/step+1e-9) * step, math.Ceil(hi/step-1e-9) * step, step
}

func ticks(lo, hi, step float64, y func(float64) float64) []chartTick {
	n := int(math.Round((hi - lo) / step))
	out := make([]chartTick, 0, n+1)
	for i := 0; i <= n; i++ {
		// Rounded to the step's precision: 0.1 × 3 is 0.3, not 0.30000000000000004.
		v := math.Round((lo+float64(i)*step)/step) * step
		out = append(out, chartTick{Y: round2(y(v)), Label: trimFloat(v)})
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
// or "3 × 5 × 100 kg", with the RPE of sets that have one ("5 @ 100 kg RPE 8").
func setsLabel(exs workout.Exercises, w workout.Workout) string {
	if len(w.Sets) == 0 {
		return ""
	}
	same := true
	for _, s := range w.Sets[1:] {
		if s != w.Sets[0] {
			same = false
		}
	}
	load := func(x float64) string {
		if x == 0 {
			return "bodyweight"
		}
		return trimFloat(x) + " " + string(w.Unit)
	}
	rpe := func(s workout.Set) string {
		if s.RPE == 0 {
			return ""
		}
		return " RPE " + trimFloat(s.RPE)
	}
	// A hold counts seconds, loaded only when weight was added.
	if ex, ok := exs.Lookup(w.Exercise); ok && ex.Timed {
		hold := func(s workout.Set) string {
			if s.Weight == 0 {
				return fmt.Sprintf("%d s%s", s.Reps, rpe(s))
			}
			return fmt.Sprintf("%d s @ %s%s", s.Reps, load(s.Weight), rpe(s))
		}
		if same {
			return fmt.Sprintf("%d × %s", len(w.Sets), hold(w.Sets[0]))
		}
		parts := make([]string, len(w.Sets))
		for i, s := range w.Sets {
			parts[i] = hold(s)
		}
		return strings.Join(parts, ", ")
	}
	if same {
		return fmt.Sprintf("%d × %d @ %s%s", len(w.Sets), w.Sets[0].Reps, load(w.Sets[0].Weight), rpe(w.Sets[0]))
	}
	parts := make([]string, len(w.Sets))
	for i, s := range w.Sets {
		parts[i] = fmt.Sprintf("%d @ %s%s", s.Reps, load(s.Weight), rpe(s))
	}
	return strings.Join(parts, ", ")
}
