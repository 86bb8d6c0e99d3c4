package transfer

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// ownReader reads the app's CSV: rows grouped by workout_id.
type ownReader struct {
	o      Options
	cols   map[string]int
	drafts []*draft
	byID   map[string]int
	setNo  map[*draft][]int
	res    Result
}

func (rd *ownReader) row(line int, rec []string) {
	get := func(name string) string { return field(rd.cols, rec, name) }
	id := strings.ToLower(get("workout_id"))
	reject := func(d *draft, f, reason string) {
		rd.res.Rejected = append(rd.res.Rejected, Rejection{Line: line, Field: f, Reason: reason})
		if d != nil {
			d.bad = true
		}
	}
	if !workout.ValidID(id) {
		reject(nil, "workout_id", "must be a lower-case UUID")
		return
	}
	i, seen := rd.byID[id]
	if !seen {
		d := &draft{w: workout.Workout{ID: id, UserID: rd.o.UserID, Exercise: get("exercise"), Unit: workout.Unit(get("unit")), Notes: get("notes")}}
		rd.byID[id], i = len(rd.drafts), len(rd.drafts)
		rd.drafts = append(rd.drafts, d)
		for _, t := range []struct {
			name string
			dst  *time.Time
		}{{"performed_at", &d.w.PerformedAt}, {"logged_at", &d.w.LoggedAt}} {
			v := get(t.name)
			if v == "" && t.name == "logged_at" {
				d.w.LoggedAt = rd.o.Now.UTC().Truncate(time.Millisecond)
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				reject(d, t.name, "use an RFC 3339 date-time, e.g. 2026-11-20T18:30:00+01:00")
				continue
			}
			*t.dst = at
		}
	}
	d := rd.drafts[i]
	d.lines = append(d.lines, line)
	var s workout.Set
	var err error
	if s.Reps, err = strconv.Atoi(get("reps")); err != nil {
		reject(d, "reps", "must be a whole number")
	}
	if s.Weight, err = strconv.ParseFloat(get("weight"), 64); err != nil {
		reject(d, "weight", "must be a number")
	}
	if v := get("rpe"); v != "" {
		if s.RPE, err = strconv.ParseFloat(v, 64); err != nil {
			reject(d, "rpe", "must be a number or empty")
		}
	}
	n, err := strconv.Atoi(get("set"))
	if err != nil {
		n = len(d.w.Sets) + 1
	}
	if rd.setNo == nil {
		rd.setNo = map[*draft][]int{}
	}
	rd.setNo[d] = append(rd.setNo[d], n)
	d.w.Sets = append(d.w.Sets, s)
}

func (rd *ownReader) result() Result {
	for _, d := range rd.drafts {
		// Rows of a workout may come in any order: sets follow their number.
		nos := rd.setNo[d]
		idx := make([]int, len(nos))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(nos[a], nos[b]) })
		sets, lines := make([]workout.Set, len(idx)), make([]int, len(idx))
		for k, i := range idx {
			sets[k], lines[k] = d.w.Sets[i], d.lines[i]
		}
		d.w.Sets, d.lines = sets, lines
	}
	finish(&rd.res, rd.drafts, rd.o.Now)
	return rd.res
}

// strongReader reads Strong's export: one workout per exercise and session.
type strongReader struct {
	o      Options
	cols   map[string]int
	drafts []*draft
	byKey  map[string]int
	res    Result
}

// strongLayouts are the date formats Strong has written.
var strongLayouts = []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02"}

// strongNamespace derives imported workout ids.
var strongNamespace = uuid.MustParse("2f6ad2b4-8a8e-4a5e-9a57-5b0d0f3c1e77")

func (rd *strongReader) row(line int, rec []string) {
	get := func(name string) string { return field(rd.cols, rec, name) }
	date, name := get("date"), get("exercise name")
	key := date + "\x00" + name
	i, seen := rd.byKey[key]
	if !seen {
		d := &draft{w: workout.Workout{UserID: rd.o.UserID, Unit: rd.o.Unit, Notes: get("workout notes"),
			LoggedAt: rd.o.Now.UTC().Truncate(time.Millisecond)}}
		rd.byKey[key], i = len(rd.drafts), len(rd.drafts)
		rd.drafts = append(rd.drafts, d)
		d.w.ID = uuid.NewSHA1(strongNamespace, []byte(rd.o.UserID+"\x00"+key)).String()
		if ex, ok := StrongExercise(name); ok {
			d.w.Exercise = ex
		} else {
			rd.reject(line, d, "exercise name", fmt.Sprintf("%q is not in the catalogue (see the import page for the names understood)", name))
		}
		var at time.Time
		var err error
		for _, layout := range strongLayouts {
			if at, err = time.ParseInLocation(layout, date, rd.o.Location); err == nil {
				break
			}
		}
		if err != nil {
			rd.reject(line, d, "date", "use YYYY-MM-DD HH:MM:SS")
		}
		d.w.PerformedAt = at.UTC()
	}
	d := rd.drafts[i]
	order := get("set order")
	if strings.EqualFold(order, "W") {
		rd.res.Skipped++
		return
	}
	var s workout.Set
	ex, _ := workout.Lookup(d.w.Exercise)
	num := func(col string, dst *float64) {
		v := get(col)
		if v == "" {
			return
		}
		x, err := strconv.ParseFloat(strings.Replace(v, ",", ".", 1), 64)
		if err != nil {
			rd.reject(line, d, col, "must be a number")
			return
		}
		*dst = x
	}
	var reps, seconds float64
	num("weight", &s.Weight)
	num("reps", &reps)
	num("seconds", &seconds)
	num("rpe", &s.RPE)
	s.Reps = int(reps)
	if ex.Timed {
		s.Reps = int(seconds)
	}
	if float64(int(reps)) != reps {
		rd.reject(line, d, "reps", "must be a whole number")
	}
	if n := get("notes"); n != "" && !strings.Contains(d.w.Notes, n) {
		d.w.Notes = strings.TrimSpace(d.w.Notes + "\n" + n)
	}
	d.lines = append(d.lines, line)
	d.w.Sets = append(d.w.Sets, s)
}

func (rd *strongReader) reject(line int, d *draft, f, reason string) {
	rd.res.Rejected = append(rd.res.Rejected, Rejection{Line: line, Field: f, Reason: reason})
	d.bad = true
}

func (rd *strongReader) result() Result {
	kept := rd.drafts[:0]
	for _, d := range rd.drafts {
		// An exercise done only as warm-ups has nothing to log.
		if len(d.w.Sets) > 0 || d.bad {
			kept = append(kept, d)
		}
	}
	finish(&rd.res, kept, rd.o.Now)
	return rd.res
}

// strongNames maps Strong's exercise names (lower case) to catalogue keys.
var strongNames = map[string]string{
	"squat (barbell)":                  "back-squat",
	"back squat (barbell)":             "back-squat",
	"front squat (barbell)":            "front-squat",
	"deadlift (barbell)":               "deadlift",
	"romanian deadlift (barbell)":      "romanian-deadlift",
	"bench press (barbell)":            "bench-press",
	"overhead press (barbell)":         "overhead-press",
	"strict press (barbell)":           "overhead-press",
	"bent over row (barbell)":          "barbell-row",
	"pendlay row (barbell)":            "barbell-row",
	"pull up":                          "pull-up",
	"pull up (weighted)":               "pull-up",
	"chin up":                          "chin-up",
	"dip":                              "dip",
	"triceps dip":                      "dip",
	"chest dip":                        "dip",
	"plank":                            "plank",
	"goblet squat (kettlebell)":        "goblet-squat",
	"goblet squat (dumbbell)":          "goblet-squat",
	"leg press":                        "leg-press",
	"leg press (machine)":              "leg-press",
	"lunge (dumbbell)":                 "lunge",
	"leg extension (machine)":          "leg-extension",
	"hip thrust (barbell)":             "hip-thrust",
	"lying leg curl (machine)":         "leg-curl",
	"seated leg curl (machine)":        "leg-curl",
	"incline bench press (dumbbell)":   "incline-dumbbell-press",
	"shoulder press (dumbbell)":        "dumbbell-shoulder-press",
	"seated overhead press (dumbbell)": "dumbbell-shoulder-press",
	"push up":                          "push-up",
	"bent over one arm row (dumbbell)": "dumbbell-row",
	"lat pulldown (cable)":             "lat-pulldown",
	"lat pulldown (machine)":           "lat-pulldown",
	"seated row (cable)":               "seated-cable-row",
	"hanging leg raise":                "hanging-leg-raise",
	"cable crunch":                     "cable-crunch",
}

// StrongExercise maps a Strong exercise name, or a catalogue name or key,
// to a catalogue key.
func StrongExercise(name string) (string, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if k, ok := strongNames[n]; ok {
		return k, true
	}
	for _, ex := range workout.Catalogue() {
		if n == ex.Key || n == strings.ToLower(ex.Name) {
			return ex.Key, true
		}
	}
	return "", false
}

// StrongNames lists the Strong exercise names understood, sorted.
func StrongNames() []string {
	out := make([]string, 0, len(strongNames))
	for n := range strongNames {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
