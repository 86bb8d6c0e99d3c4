// Package workout defines a logged workout, the message the web app publishes
// and the consumer persists, and the rules a valid one satisfies.
package workout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Unit is the unit a workout's weights were logged in. Both are accepted so
// that history stays comparable after a user switches units.
type Unit string

const (
	Kilograms Unit = "kg"
	Pounds    Unit = "lb"
)

// PoundsPerKilogram converts logged pounds to kilograms for comparisons.
const PoundsPerKilogram = 2.2046226218

// Limits that keep one message small and reject obviously wrong input.
const (
	MaxSets = 20
	MaxReps = 100
	// MaxSeconds bounds one set of a timed exercise, whose reps field
	// counts seconds.
	MaxSeconds  = 600
	MaxWeightKg = 600
	// MaxNotesLength counts characters (runes), as a form's maxlength does
	// for the text people type.
	MaxNotesLength = 500
	MaxBodyBytes   = 16 << 10
)

// Set is one set of an exercise.
type Set struct {
	Reps   int     `json:"reps" bson:"reps"`
	Weight float64 `json:"weight" bson:"weight"`
	// RPE is the optional rate of perceived exertion (1–10, 0 when unset).
	RPE float64 `json:"rpe,omitempty" bson:"rpe,omitempty"`
}

// Workout is one exercise performed by one user on one day, with its sets.
// ID is a UUID: it is the message id on the broker and the document _id in
// MongoDB, so a redelivered message can never be stored twice.
type Workout struct {
	ID          string    `json:"id" bson:"_id"`
	UserID      string    `json:"user_id" bson:"user_id"`
	Exercise    string    `json:"exercise" bson:"exercise"`
	PerformedAt time.Time `json:"performed_at" bson:"performed_at"`
	Unit        Unit      `json:"unit" bson:"unit"`
	Sets        []Set     `json:"sets" bson:"sets"`
	Notes       string    `json:"notes,omitempty" bson:"notes,omitempty"`
	LoggedAt    time.Time `json:"logged_at" bson:"logged_at"`
	// Version orders the changes of one workout: 0 as first logged; an
	// edit, a delete or an undo carries the time it was made in Unix
	// milliseconds, above the version it replaces. The store keeps the
	// highest version whatever order the messages arrive in, so a late
	// edit never overwrites a newer change and a replayed one changes
	// nothing.
	Version int64 `json:"version,omitempty" bson:"version,omitempty"`
	// Deleted marks a deleted workout. Its content is kept, so that an undo
	// (a newer version without the mark) can restore it.
	Deleted bool `json:"deleted,omitempty" bson:"deleted,omitempty"`
}

// ChangedAt is when the change a workout's version carries was made; zero
// for a workout as first logged.
func (w Workout) ChangedAt() time.Time {
	if w.Version == 0 {
		return time.Time{}
	}
	return time.UnixMilli(w.Version).UTC()
}

// NextVersion is the version of a change of w made at now: now in Unix
// milliseconds, or one above w's version when the clock is behind it.
func (w Workout) NextVersion(now time.Time) int64 {
	return max(now.UnixMilli(), w.Version+1)
}

// MuscleGroup groups exercises for recovery spacing and volume balance.
type MuscleGroup string

const (
	Legs      MuscleGroup = "legs"
	Push      MuscleGroup = "push"
	Pull      MuscleGroup = "pull"
	Posterior MuscleGroup = "posterior"
	Core      MuscleGroup = "core"
)

// Equipment is what an exercise is done with.
type Equipment string

const (
	Barbell    Equipment = "barbell"
	Dumbbell   Equipment = "dumbbell"
	Machine    Equipment = "machine"
	Cable      Equipment = "cable"
	BodyWeight Equipment = "bodyweight"
)

// Exercise describes a catalogue entry: how it loads and how fast it progresses.
type Exercise struct {
	Key       string
	Name      string
	Group     MuscleGroup
	Equipment Equipment
	// IncrementKg is the smallest sensible load jump for progressive
	// overload (per dumbbell for dumbbell exercises, whose weight is one
	// dumbbell's).
	IncrementKg float64
	// Bodyweight exercises progress by reps rather than load; their weight
	// is the load added to the body.
	Bodyweight bool
	// Timed exercises are held for a time: a set's reps field counts
	// seconds (the wire format stays the same for every exercise).
	Timed bool
}

// RepLimit is the most a set of e may count: reps, or seconds for a timed
// exercise.
func (e Exercise) RepLimit() int {
	if e.Timed {
		return MaxSeconds
	}
	return MaxReps
}

// RepUnit names what a set of e counts: "reps" or "s".
func (e Exercise) RepUnit() string {
	if e.Timed {
		return "s"
	}
	return "reps"
}

// catalogue holds the common barbell, dumbbell, machine, cable and
// bodyweight lifts. Keys are stored in every workout: never rename one.
var catalogue = []Exercise{
	{Key: "back-squat", Name: "Back squat", Group: Legs, Equipment: Barbell, IncrementKg: 2.5},
	{Key: "front-squat", Name: "Front squat", Group: Legs, Equipment: Barbell, IncrementKg: 2.5},
	{Key: "goblet-squat", Name: "Goblet squat", Group: Legs, Equipment: Dumbbell, IncrementKg: 2},
	{Key: "leg-press", Name: "Leg press", Group: Legs, Equipment: Machine, IncrementKg: 5},
	{Key: "lunge", Name: "Dumbbell lunge", Group: Legs, Equipment: Dumbbell, IncrementKg: 2},
	{Key: "leg-extension", Name: "Leg extension", Group: Legs, Equipment: Machine, IncrementKg: 2.5},
	{Key: "deadlift", Name: "Deadlift", Group: Posterior, Equipment: Barbell, IncrementKg: 5},
	{Key: "romanian-deadlift", Name: "Romanian deadlift", Group: Posterior, Equipment: Barbell, IncrementKg: 2.5},
	{Key: "hip-thrust", Name: "Hip thrust", Group: Posterior, Equipment: Barbell, IncrementKg: 5},
	{Key: "leg-curl", Name: "Leg curl", Group: Posterior, Equipment: Machine, IncrementKg: 2.5},
	{Key: "bench-press", Name: "Bench press", Group: Push, Equipment: Barbell, IncrementKg: 2.5},
	{Key: "overhead-press", Name: "Overhead press", Group: Push, Equipment: Barbell, IncrementKg: 1.25},
	{Key: "incline-dumbbell-press", Name: "Incline dumbbell press", Group: Push, Equipment: Dumbbell, IncrementKg: 2},
	{Key: "dumbbell-shoulder-press", Name: "Dumbbell shoulder press", Group: Push, Equipment: Dumbbell, IncrementKg: 2},
	{Key: "dip", Name: "Dip", Group: Push, Equipment: BodyWeight, Bodyweight: true},
	{Key: "push-up", Name: "Push-up", Group: Push, Equipment: BodyWeight, Bodyweight: true},
	{Key: "barbell-row", Name: "Barbell row", Group: Pull, Equipment: Barbell, IncrementKg: 2.5},
	{Key: "dumbbell-row", Name: "One-arm dumbbell row", Group: Pull, Equipment: Dumbbell, IncrementKg: 2},
	{Key: "lat-pulldown", Name: "Lat pulldown", Group: Pull, Equipment: Cable, IncrementKg: 2.5},
	{Key: "seated-cable-row", Name: "Seated cable row", Group: Pull, Equipment: Cable, IncrementKg: 2.5},
	{Key: "pull-up", Name: "Pull-up", Group: Pull, Equipment: BodyWeight, Bodyweight: true},
	{Key: "chin-up", Name: "Chin-up", Group: Pull, Equipment: BodyWeight, Bodyweight: true},
	{Key: "plank", Name: "Plank (seconds)", Group: Core, Equipment: BodyWeight, Bodyweight: true, Timed: true},
	{Key: "hanging-leg-raise", Name: "Hanging leg raise", Group: Core, Equipment: BodyWeight, Bodyweight: true},
	{Key: "cable-crunch", Name: "Cable crunch", Group: Core, Equipment: Cable, IncrementKg: 2.5},
}

// Catalogue returns the known exercises, sorted by key.
func Catalogue() []Exercise {
	out := append([]Exercise(nil), catalogue...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// CustomPrefix starts the key of an exercise a user added (settings).
const CustomPrefix = "custom-"

// maxCustomKey bounds a custom exercise's key.
const maxCustomKey = 48

// IsCustomKey reports whether key names a user's own exercise:
// "custom-" and words of a-z and 0-9 joined by single dashes. Its
// definition (name, group, whether it is timed) lives in the user's
// settings; a workout of it is valid with any such key, counting up to
// MaxSeconds per set, with any load from zero.
func IsCustomKey(key string) bool {
	rest, ok := strings.CutPrefix(key, CustomPrefix)
	if !ok || len(key) > maxCustomKey || rest == "" || rest[0] == '-' || rest[len(rest)-1] == '-' {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
		case c == '-' && rest[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

// CustomKey makes the key of a custom exercise from its name ("" when the
// name has no letter or digit).
func CustomKey(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case 'a' <= r && r <= 'z' || '0' <= r && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
	}
	if b.Len() == 0 {
		return ""
	}
	key := CustomPrefix + b.String()
	if len(key) > maxCustomKey {
		key = strings.TrimRight(key[:maxCustomKey], "-")
	}
	return key
}

// Exercises finds exercises in the catalogue and then among a user's own
// (settings); its zero value knows the catalogue only.
type Exercises struct{ custom []Exercise }

// WithCustom is the catalogue together with a user's own exercises.
func WithCustom(custom ...Exercise) Exercises { return Exercises{custom: custom} }

// Lookup returns the exercise for key.
func (e Exercises) Lookup(key string) (Exercise, bool) {
	if ex, ok := Lookup(key); ok {
		return ex, true
	}
	for _, c := range e.custom {
		if c.Key == key {
			return c, true
		}
	}
	return Exercise{}, false
}

// All is the catalogue, sorted by key, then the user's own exercises.
func (e Exercises) All() []Exercise { return append(Catalogue(), e.custom...) }

// IncrementKg is the load step of an exercise done with eq, for exercises
// (a user's own) that do not say: the smallest common plates or pin step.
func IncrementKg(eq Equipment) float64 {
	switch eq {
	case Barbell, Machine, Cable:
		return 2.5
	case Dumbbell:
		return 2
	}
	return 0
}

// Lookup returns the catalogue entry for key.
func Lookup(key string) (Exercise, bool) {
	for _, e := range catalogue {
		if e.Key == key {
			return e, true
		}
	}
	return Exercise{}, false
}

// WeightKg returns a set's weight in kilograms whatever unit it was logged in.
func (w Workout) WeightKg(s Set) float64 {
	if w.Unit == Pounds {
		return s.Weight / PoundsPerKilogram
	}
	return s.Weight
}

// FieldErrors maps a field path (as in the form and the JSON body, e.g.
// "sets[1].reps") to a message a user can act on.
type FieldErrors map[string]string

func (fe FieldErrors) Error() string {
	keys := make([]string, 0, len(fe))
	for k := range fe {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+fe[k])
	}
	return "invalid workout: " + strings.Join(parts, "; ")
}

// ValidID reports whether id is a canonical lower-case UUID of versions 1
// to 8 (RFC 9562 variant): xxxxxxxx-xxxx-Vxxx-Nxxx-xxxxxxxxxxxx, V in 1-8,
// N in 8, 9, a, b. It runs on every POST: no regular expression.
func ValidID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		case 14:
			if c < '1' || c > '8' {
				return false
			}
		case 19:
			if c != '8' && c != '9' && c != 'a' && c != 'b' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// Validate checks w against the rules every stored workout satisfies. now
// bounds PerformedAt so that a clock-skewed client cannot log the future.
func (w Workout) Validate(now time.Time) error {
	fe := FieldErrors{}
	if !ValidID(w.ID) {
		fe["id"] = "must be a lower-case UUID"
	}
	if strings.TrimSpace(w.UserID) == "" || len(w.UserID) > 254 {
		fe["user_id"] = "is required (at most 254 characters)"
	}
	ex, known := Lookup(w.Exercise)
	custom := !known && IsCustomKey(w.Exercise)
	if !known && !custom {
		fe["exercise"] = "unknown exercise; choose one from the list"
	}
	switch {
	case w.PerformedAt.IsZero():
		fe["performed_at"] = "is required"
	case w.PerformedAt.After(now.Add(24 * time.Hour)):
		fe["performed_at"] = "is in the future"
	case w.PerformedAt.Before(now.AddDate(-10, 0, 0)):
		fe["performed_at"] = "is more than 10 years ago"
	}
	if w.Unit != Kilograms && w.Unit != Pounds {
		fe["unit"] = `must be "kg" or "lb"`
	}
	switch {
	case len(w.Sets) == 0:
		fe["sets"] = "log at least one set"
	case len(w.Sets) > MaxSets:
		fe["sets"] = fmt.Sprintf("at most %d sets", MaxSets)
	}
	for i, s := range w.Sets {
		if i >= MaxSets {
			break
		}
		limit := ex.RepLimit()
		if custom {
			limit = MaxSeconds
		}
		switch {
		case known && ex.Timed && (s.Reps < 1 || s.Reps > limit):
			fe[fmt.Sprintf("sets[%d].reps", i)] = fmt.Sprintf("must be between 1 and %d seconds", limit)
		case s.Reps < 1 || s.Reps > limit:
			fe[fmt.Sprintf("sets[%d].reps", i)] = fmt.Sprintf("must be between 1 and %d", limit)
		}
		kg := w.WeightKg(s)
		switch {
		case math.IsNaN(s.Weight) || math.IsInf(s.Weight, 0) || s.Weight < 0:
			fe[fmt.Sprintf("sets[%d].weight", i)] = "must be zero or more"
		case kg > MaxWeightKg:
			fe[fmt.Sprintf("sets[%d].weight", i)] = fmt.Sprintf("more than %d kg is not plausible", MaxWeightKg)
		case known && !ex.Bodyweight && s.Weight == 0:
			fe[fmt.Sprintf("sets[%d].weight", i)] = "is required for a loaded exercise"
		}
		if s.RPE != 0 && (s.RPE < 1 || s.RPE > 10 || math.IsNaN(s.RPE)) {
			fe[fmt.Sprintf("sets[%d].rpe", i)] = "must be between 1 and 10"
		}
	}
	if utf8.RuneCountInString(w.Notes) > MaxNotesLength {
		fe["notes"] = fmt.Sprintf("at most %d characters", MaxNotesLength)
	}
	if w.LoggedAt.IsZero() {
		fe["logged_at"] = "is required"
	}
	if w.Version < 0 {
		fe["version"] = "must be zero or more"
	}
	if w.Deleted && w.Version == 0 {
		fe["deleted"] = "a delete needs a version above the workout's"
	}
	if len(fe) > 0 {
		return fe
	}
	return nil
}

// ErrTooLarge is returned by Decode when the body exceeds MaxBodyBytes.
var ErrTooLarge = errors.New("workout body too large")

// Decode reads one JSON workout a client sent strictly: unknown fields,
// trailing data and bodies over MaxBodyBytes are errors, and so are the
// version and deleted fields, which only the server sets (an edit or a
// delete has its own request). It does not validate.
func Decode(r io.Reader) (Workout, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		return Workout{}, fmt.Errorf("read workout: %w", err)
	}
	w, err := DecodeBytes(data)
	if err != nil {
		return Workout{}, err
	}
	fe := FieldErrors{}
	if w.Version != 0 {
		fe["version"] = "is set by the server; edit a workout with PUT /api/v1/workouts/{id}"
	}
	if w.Deleted {
		fe["deleted"] = "is set by the server; delete a workout with DELETE /api/v1/workouts/{id}"
	}
	if len(fe) > 0 {
		return Workout{}, fe
	}
	return w, nil
}

// DecodeBytes decodes a message body as Decode does, version and deleted
// fields included.
func DecodeBytes(data []byte) (Workout, error) {
	if len(data) > MaxBodyBytes {
		return Workout{}, ErrTooLarge
	}
	if w, ok := decodeCanonical(data); ok {
		return w, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	// The times are decoded apart so that a bad one is reported by field
	// in the client's terms, not as Go's parse error.
	var in struct {
		Workout
		PerformedAt *json.RawMessage `json:"performed_at"`
		LoggedAt    *json.RawMessage `json:"logged_at"`
	}
	if err := dec.Decode(&in); err != nil {
		return Workout{}, describeDecodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Workout{}, errors.New("decode workout: unexpected data after the object")
	}
	w := in.Workout
	fe := FieldErrors{}
	for _, f := range []struct {
		name string
		raw  *json.RawMessage
		dst  *time.Time
	}{{"performed_at", in.PerformedAt, &w.PerformedAt}, {"logged_at", in.LoggedAt, &w.LoggedAt}} {
		if f.raw == nil || string(*f.raw) == "null" {
			continue
		}
		if err := json.Unmarshal(*f.raw, f.dst); err != nil {
			fe[f.name] = "use an RFC 3339 date-time with a time zone offset, e.g. 2026-11-20T18:30:00+01:00"
		}
	}
	if len(fe) > 0 {
		return Workout{}, fe
	}
	return w, nil
}

// describeDecodeError rewords encoding/json's errors, which name Go types
// and struct fields, for the JSON client.
func describeDecodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("decode workout: not valid JSON at byte %d", syntax.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("decode workout: the body is empty or cut short")
	case errors.As(err, &typ):
		field := jsonPath(typ.Field)
		if field == "" {
			return fmt.Errorf("decode workout: the body must be a JSON object, not %s", article(typ.Value))
		}
		want := jsonKind(typ.Type)
		if want == "number" && strings.HasPrefix(typ.Value, "number") {
			if k := typ.Type.Kind(); k == reflect.Float32 || k == reflect.Float64 {
				return FieldErrors{field: "is out of range"}
			}
			return FieldErrors{field: "must be a whole number"}
		}
		return FieldErrors{field: "must be " + article(want) + ", not " + article(strings.Fields(typ.Value)[0])}
	}
	// The remaining errors (an unknown field, mostly) name nothing of Go.
	return fmt.Errorf("decode workout: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonPath turns encoding/json's "sets.0.reps" into "sets[0].reps", as
// validation errors name fields.
func jsonPath(dotted string) string {
	parts := strings.Split(dotted, ".")
	var b strings.Builder
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err == nil {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	default:
		return "object"
	}
}

func article(kind string) string {
	switch kind {
	case "array", "object":
		return "an " + kind
	case "":
		return "a value"
	default:
		return "a " + kind
	}
}
