package web

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// FormRows is how many set rows the log form offers; empty rows are ignored.
const FormRows = 6

// DateLayout is the form's date format (an HTML date input's value).
const DateLayout = "2006-01-02"

// Form is the log form as typed, so that it can be shown again with
// field-level errors.
type Form struct {
	Exercise string
	Date     string
	// TZ is the browser's time zone (filled by static/tz.js): the date is
	// a day there.
	TZ    string
	Unit  string
	Notes string
	// IdempotencyKey is the workout id, generated when the form is first
	// shown: submitting the same form twice logs one workout.
	IdempotencyKey string
	Rows           [FormRows]FormRow
}

// FormRow is one set as typed.
type FormRow struct {
	Reps, Weight, RPE string
}

// NewForm is an empty form with a fresh idempotency key, dated today in
// loc; without a zone (nil) the date is left for the browser to fill, as
// the server does not know the user's day. unit may be "" (not known).
func NewForm(now time.Time, loc *time.Location, unit workout.Unit) Form {
	f := Form{Unit: string(unit), IdempotencyKey: uuid.NewString()}
	if loc != nil {
		f.Date, f.TZ = now.In(loc).Format(DateLayout), loc.String()
	}
	return f
}

var setFieldPattern = regexp.MustCompile(`^sets\[(\d+)\]\.(\w+)$`)

// ParseForm reads the log form into a workout for userID and validates it.
// The date is a day in the form's time zone (field "tz"), UTC without one;
// today's date means now, another day its midday.
// Errors are keyed by form field: "exercise", "date", "unit", "notes",
// "rows" (about the sets as a whole) and "rows[i].reps|weight|rpe" (i is
// the row as shown). A missing or malformed idempotency key is replaced by
// a new one (a new workout). The workout is only meaningful when the
// errors are empty.
func ParseForm(v url.Values, userID string, now time.Time) (workout.Workout, Form, workout.FieldErrors) {
	f := Form{
		Exercise: strings.TrimSpace(v.Get("exercise")),
		Date:     strings.TrimSpace(v.Get("date")),
		TZ:       strings.TrimSpace(v.Get("tz")),
		Unit:     strings.TrimSpace(v.Get("unit")),
		// Browsers send a line break as CRLF but count it as one character
		// for maxlength: count it as one too.
		Notes:          strings.TrimSpace(strings.ReplaceAll(v.Get("notes"), "\r\n", "\n")),
		IdempotencyKey: strings.ToLower(strings.TrimSpace(v.Get("idempotency_key"))),
	}
	if !workout.ValidID(f.IdempotencyKey) {
		f.IdempotencyKey = uuid.NewString()
	}
	errs := workout.FieldErrors{}
	w := workout.Workout{
		ID:       f.IdempotencyKey,
		UserID:   userID,
		Exercise: f.Exercise,
		Unit:     workout.Unit(f.Unit),
		Notes:    f.Notes,
		LoggedAt: now.UTC().Truncate(time.Millisecond),
	}
	if f.Exercise == "" {
		errs["exercise"] = "choose an exercise"
	}
	if f.Unit == "" {
		errs["unit"] = "choose kg or lb"
	}
	loc := location(f.TZ)
	if loc == nil {
		loc, f.TZ = time.UTC, ""
	}
	switch d, err := time.ParseInLocation(DateLayout, f.Date, loc); {
	case f.Date == "":
		errs["date"] = "is required"
	case err != nil:
		errs["date"] = "use the format YYYY-MM-DD"
	case f.Date == now.In(loc).Format(DateLayout):
		w.PerformedAt = now.UTC().Truncate(time.Second)
	default:
		// Another day without a time: its midday, in the user's zone.
		w.PerformedAt = d.Add(12 * time.Hour).UTC()
	}

	// rowOf maps the i-th set of the workout to the row it came from.
	var rowOf []int
	for i := range FormRows {
		row := FormRow{
			Reps:   strings.TrimSpace(v.Get(fmt.Sprintf("reps_%d", i))),
			Weight: strings.TrimSpace(v.Get(fmt.Sprintf("weight_%d", i))),
			RPE:    strings.TrimSpace(v.Get(fmt.Sprintf("rpe_%d", i))),
		}
		f.Rows[i] = row
		if row.Reps == "" && row.Weight == "" && row.RPE == "" {
			continue
		}
		var set workout.Set
		ok := true
		if n, err := strconv.Atoi(row.Reps); err != nil {
			errs[fmt.Sprintf("rows[%d].reps", i)] = "enter a whole number of reps"
			ok = false
		} else {
			set.Reps = n
		}
		if row.Weight != "" {
			if x, err := parseNumber(row.Weight); err != nil {
				errs[fmt.Sprintf("rows[%d].weight", i)] = "enter a number, e.g. 62.5"
				ok = false
			} else {
				set.Weight = x
			}
		}
		if row.RPE != "" {
			if x, err := parseNumber(row.RPE); err != nil {
				errs[fmt.Sprintf("rows[%d].rpe", i)] = "enter a number from 1 to 10"
				ok = false
			} else {
				set.RPE = x
			}
		}
		if ok {
			w.Sets = append(w.Sets, set)
			rowOf = append(rowOf, i)
		}
	}
	hadRowErrors := len(errs) > 0

	if err := w.Validate(now); err != nil {
		fe, _ := err.(workout.FieldErrors)
		for k, msg := range fe {
			switch {
			case k == "performed_at":
				if _, dup := errs["date"]; !dup {
					errs["date"] = msg
				}
			case k == "sets":
				// Rows that did not parse already say why.
				if !hadRowErrors {
					errs["rows"] = msg
				}
			case setFieldPattern.MatchString(k):
				m := setFieldPattern.FindStringSubmatch(k)
				i, _ := strconv.Atoi(m[1])
				if i < len(rowOf) {
					errs[fmt.Sprintf("rows[%d].%s", rowOf[i], m[2])] = msg
				}
			case k == "id" || k == "user_id" || k == "logged_at":
				// Set by the server, not by the form.
				errs["form"] = "could not log this workout: " + k + " " + msg
			default:
				if _, dup := errs[k]; !dup {
					errs[k] = msg
				}
			}
		}
	}
	if len(errs) > 0 {
		return workout.Workout{}, f, errs
	}
	return w, f, nil
}

// parseNumber accepts a decimal comma as typed on many phones.
func parseNumber(s string) (float64, error) {
	return strconv.ParseFloat(strings.Replace(s, ",", ".", 1), 64)
}
