// Package transfer writes a user's workouts as CSV or JSON and reads them
// back, and reads the CSV export of the Strong app.
//
// The app's own CSV has one row per set:
//
//	workout_id,performed_at,logged_at,exercise,unit,set,reps,weight,rpe,notes
//
// with times in RFC 3339 (nanoseconds kept), numbers in their shortest
// exact form and the notes on every row of the workout, so that reading an
// export gives back the same workouts (same ids: importing it again
// changes nothing). The JSON export is {"workouts": [...]} in the API's
// workout format.
//
// Strong's export (Settings → Export data) has one row per set with the
// columns Date, Workout Name, Exercise Name, Set Order, Weight, Reps,
// Seconds, Notes, Workout Notes and RPE (others are ignored; a column
// order or a Duration/Distance column does not matter). Its dates are local
// times without a zone and its weights carry no unit: the importer says
// both. Each exercise of a session becomes one workout whose id is derived
// from the user, the date and the exercise, so importing the same file
// twice logs nothing twice. Warm-up sets (Set Order "W") are skipped.
package transfer

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Limits of one import.
const (
	// MaxRows bounds the rows (sets) of a file.
	MaxRows = 50_000
	// MaxWorkouts bounds the workouts an import logs.
	MaxWorkouts = 5_000
)

// Header is the app's CSV header.
var Header = []string{"workout_id", "performed_at", "logged_at", "exercise", "unit", "set", "reps", "weight", "rpe", "notes"}

// WriteCSV writes ws in the app's CSV format.
func WriteCSV(w io.Writer, ws []workout.Workout) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Header); err != nil {
		return fmt.Errorf("write csv header: %w", err)
	}
	for _, wo := range ws {
		for i, s := range wo.Sets {
			rpe := ""
			if s.RPE != 0 {
				rpe = formatNumber(s.RPE)
			}
			rec := []string{wo.ID, wo.PerformedAt.Format(time.RFC3339Nano), wo.LoggedAt.Format(time.RFC3339Nano), wo.Exercise,
				string(wo.Unit), strconv.Itoa(i + 1), strconv.Itoa(s.Reps), formatNumber(s.Weight), rpe, wo.Notes}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("write csv row of workout %s: %w", wo.ID, err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// formatNumber is the shortest text that parses back to v exactly.
func formatNumber(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Export is the JSON export.
type Export struct {
	Workouts []workout.Workout `json:"workouts"`
}

// WriteJSON writes ws as {"workouts": [...]}.
func WriteJSON(w io.Writer, ws []workout.Workout) error {
	if ws == nil {
		ws = []workout.Workout{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(Export{Workouts: ws}); err != nil {
		return fmt.Errorf("write json export: %w", err)
	}
	return nil
}

// Rejection says why part of a file was not imported. Line is the file's
// line (1 is the header; 0 when it concerns a whole workout of a JSON
// file, then Index is its position in the array).
type Rejection struct {
	Line   int    `json:"line,omitempty"`
	Index  *int   `json:"index,omitempty"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// Result is what a file holds: the workouts to log, what was rejected and
// the warm-up sets skipped.
type Result struct {
	Workouts []workout.Workout
	Rejected []Rejection
	Skipped  int
}

// Options say what a file does not.
type Options struct {
	// UserID owns the imported workouts.
	UserID string
	// Unit of Strong's weights (its export has none).
	Unit workout.Unit
	// Location of Strong's dates.
	Location *time.Location
	// Now bounds dates (no future) and stamps logged_at where the file has
	// none.
	Now time.Time
}

// ErrFormat is wrapped by the readers for a file they cannot read at all.
var ErrFormat = errors.New("unreadable import file")

// ReadJSON reads a JSON export: each workout is validated as the API
// validates one, and one that fails is rejected alone. A deleted workout
// is rejected; user_id and version are replaced.
func ReadJSON(r io.Reader, o Options) (Result, error) {
	var raw struct {
		Workouts []json.RawMessage `json:"workouts"`
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil {
		return Result{}, fmt.Errorf("%w: not a JSON export ({\"workouts\": [...]}): %v", ErrFormat, err)
	}
	if len(raw.Workouts) > MaxWorkouts {
		return Result{}, fmt.Errorf("%w: %d workouts; at most %d per import", ErrFormat, len(raw.Workouts), MaxWorkouts)
	}
	var res Result
	for i, data := range raw.Workouts {
		reject := func(field, reason string) {
			res.Rejected = append(res.Rejected, Rejection{Index: &i, Field: field, Reason: reason})
		}
		w, err := workout.DecodeBytes(data)
		if err != nil {
			var fe workout.FieldErrors
			if errors.As(err, &fe) {
				for f, msg := range fe {
					reject(f, msg)
				}
				continue
			}
			reject("", err.Error())
			continue
		}
		if w.Deleted {
			reject("deleted", "a deleted workout is not imported")
			continue
		}
		// The importer owns what it imports (an export moved to another
		// account): the file's owner is not kept.
		w.UserID, w.Version = o.UserID, 0
		if w.LoggedAt.IsZero() {
			w.LoggedAt = o.Now.UTC().Truncate(time.Millisecond)
		}
		if !validate(&res, w, o.Now, func(field, reason string) { reject(field, reason) }) {
			continue
		}
		res.Workouts = append(res.Workouts, w)
	}
	return res, nil
}

// validate checks w and reports each field error through reject.
func validate(res *Result, w workout.Workout, now time.Time, reject func(field, reason string)) bool {
	err := w.Validate(now)
	if err == nil {
		return true
	}
	var fe workout.FieldErrors
	if errors.As(err, &fe) {
		for f, msg := range fe {
			reject(f, msg)
		}
	} else {
		reject("", err.Error())
	}
	return false
}

// ReadCSV reads the app's CSV export or Strong's, told apart by the header.
func ReadCSV(r io.Reader, o Options) (Result, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return Result{}, fmt.Errorf("%w: line 1: no CSV header: %v", ErrFormat, err)
	}
	cols := map[string]int{}
	for i, h := range header {
		cols[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	var rd rowReader
	switch {
	case has(cols, "workout_id", "performed_at", "exercise", "unit", "reps", "weight"):
		rd = &ownReader{o: o, cols: cols, byID: map[string]int{}}
	case has(cols, "date", "exercise name", "reps", "weight"):
		if o.Unit != workout.Kilograms && o.Unit != workout.Pounds {
			return Result{}, fmt.Errorf("%w: a Strong export has no unit: choose kg or lb", ErrFormat)
		}
		if o.Location == nil {
			o.Location = time.UTC
		}
		rd = &strongReader{o: o, cols: cols, byKey: map[string]int{}}
	default:
		return Result{}, fmt.Errorf("%w: line 1: the header is neither this app's (%s) nor Strong's (Date, Exercise Name, Set Order, Weight, Reps, ...)",
			ErrFormat, strings.Join(Header, ","))
	}
	rows := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return Result{}, fmt.Errorf("%w: line %d: %v", ErrFormat, pe.Line, pe.Err)
			}
			return Result{}, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if rows++; rows > MaxRows {
			return Result{}, fmt.Errorf("%w: more than %d rows; split the file", ErrFormat, MaxRows)
		}
		rd.row(line, rec)
	}
	res := rd.result()
	if len(res.Workouts) > MaxWorkouts {
		return Result{}, fmt.Errorf("%w: %d workouts; at most %d per import", ErrFormat, len(res.Workouts), MaxWorkouts)
	}
	return res, nil
}

func has(cols map[string]int, names ...string) bool {
	for _, n := range names {
		if _, ok := cols[n]; !ok {
			return false
		}
	}
	return true
}

type rowReader interface {
	row(line int, rec []string)
	result() Result
}

// field is the column's value of rec, "" when the row is short.
func field(cols map[string]int, rec []string, name string) string {
	i, ok := cols[name]
	if !ok || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// draft is a workout being assembled from rows, with the first line of
// each of its sets.
type draft struct {
	w     workout.Workout
	lines []int
	bad   bool
}

// finish validates the drafts in file order into res.
func finish(res *Result, drafts []*draft, now time.Time) {
	for _, d := range drafts {
		if d.bad {
			continue
		}
		first := d.lines[0]
		ok := validate(res, d.w, now, func(f, reason string) {
			line := first
			var i int
			if n, err := fmt.Sscanf(f, "sets[%d]", &i); n == 1 && err == nil && i < len(d.lines) {
				line = d.lines[i]
			}
			res.Rejected = append(res.Rejected, Rejection{Line: line, Field: f, Reason: reason + " (the whole workout is rejected)"})
		})
		if ok {
			res.Workouts = append(res.Workouts, d.w)
		}
	}
}
