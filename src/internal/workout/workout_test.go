package workout

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func valid(t testing.TB) Workout {
	t.Helper()
	data, err := os.ReadFile("testdata/valid.json")
	if err != nil {
		t.Fatal(err)
	}
	w, err := DecodeBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Workout)
		fields []string // the fields reported, none for a valid workout
	}{
		{name: "valid", mutate: func(*Workout) {}},
		{name: "pounds", mutate: func(w *Workout) { w.Unit = Pounds; w.Sets[0].Weight = 225 }},
		{name: "bodyweight without load", mutate: func(w *Workout) { w.Exercise = "pull-up"; w.Sets = []Set{{Reps: 8}} }},
		{name: "upper-case id", mutate: func(w *Workout) { w.ID = strings.ToUpper(w.ID) }, fields: []string{"id"}},
		{name: "no user", mutate: func(w *Workout) { w.UserID = "  " }, fields: []string{"user_id"}},
		{name: "unknown exercise", mutate: func(w *Workout) { w.Exercise = "curl-in-squat-rack" }, fields: []string{"exercise"}},
		{name: "future", mutate: func(w *Workout) { w.PerformedAt = now.Add(48 * time.Hour) }, fields: []string{"performed_at"}},
		{name: "ancient", mutate: func(w *Workout) { w.PerformedAt = now.AddDate(-11, 0, 0) }, fields: []string{"performed_at"}},
		{name: "no date", mutate: func(w *Workout) { w.PerformedAt = time.Time{} }, fields: []string{"performed_at"}},
		{name: "bad unit", mutate: func(w *Workout) { w.Unit = "stone" }, fields: []string{"unit"}},
		{name: "no sets", mutate: func(w *Workout) { w.Sets = nil }, fields: []string{"sets"}},
		{name: "too many sets", mutate: func(w *Workout) { w.Sets = make([]Set, MaxSets+1); fill(w.Sets) }, fields: []string{"sets"}},
		{name: "zero reps", mutate: func(w *Workout) { w.Sets[1].Reps = 0 }, fields: []string{"sets[1].reps"}},
		{name: "negative weight", mutate: func(w *Workout) { w.Sets[2].Weight = -5 }, fields: []string{"sets[2].weight"}},
		{name: "loaded exercise without load", mutate: func(w *Workout) { w.Sets[0].Weight = 0 }, fields: []string{"sets[0].weight"}},
		{name: "implausible load in pounds", mutate: func(w *Workout) { w.Unit = Pounds; w.Sets[0].Weight = 1400 }, fields: []string{"sets[0].weight"}},
		{name: "rpe out of range", mutate: func(w *Workout) { w.Sets[0].RPE = 11 }, fields: []string{"sets[0].rpe"}},
		{name: "long notes", mutate: func(w *Workout) { w.Notes = strings.Repeat("x", MaxNotesLength+1) }, fields: []string{"notes"}},
		{name: "no logged_at", mutate: func(w *Workout) { w.LoggedAt = time.Time{} }, fields: []string{"logged_at"}},
		{name: "plank of 105 s", mutate: func(w *Workout) { w.Exercise = "plank"; w.Sets = []Set{{Reps: 105}, {Reps: 105}, {Reps: 105}} }},
		{name: "plank over the time limit", mutate: func(w *Workout) { w.Exercise = "plank"; w.Sets = []Set{{Reps: 601}} }, fields: []string{"sets[0].reps"}},
		{name: "squat of 105 reps", mutate: func(w *Workout) { w.Sets[0].Reps = 105 }, fields: []string{"sets[0].reps"}},
		{name: "notes of 500 two-byte characters", mutate: func(w *Workout) { w.Notes = strings.Repeat("é", MaxNotesLength) }},
		{name: "notes of 501 characters", mutate: func(w *Workout) { w.Notes = strings.Repeat("é", MaxNotesLength+1) }, fields: []string{"notes"}},
		{name: "several", mutate: func(w *Workout) { w.Unit = ""; w.Sets[0].Reps = 101 }, fields: []string{"sets[0].reps", "unit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := valid(t)
			tt.mutate(&w)
			err := w.Validate(now)
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var fe FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want FieldErrors", err)
			}
			if len(fe) != len(tt.fields) {
				t.Errorf("fields %v, want %v", fe, tt.fields)
			}
			for _, f := range tt.fields {
				if fe[f] == "" {
					t.Errorf("no message for %s in %v", f, fe)
				}
			}
		})
	}
}

func fill(sets []Set) {
	for i := range sets {
		sets[i] = Set{Reps: 5, Weight: 60}
	}
}

func TestDecode(t *testing.T) {
	good, err := os.ReadFile("testdata/valid.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		body    string
		wantErr error // nil: any error when fail is set
		fail    bool
	}{
		{name: "valid", body: string(good)},
		{name: "trailing whitespace", body: string(good) + "\n\n"},
		{name: "unknown field", body: `{"id":"x","bogus":1}`, fail: true},
		{name: "trailing object", body: string(good) + `{}`, fail: true},
		{name: "trailing brace", body: string(good) + `}`, fail: true},
		{name: "truncated", body: string(good[:40]), fail: true},
		{name: "wrong type", body: `{"sets":"five"}`, fail: true},
		{name: "empty", body: ``, fail: true},
		{name: "too large", body: `{"notes":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, wantErr: ErrTooLarge, fail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Decode(strings.NewReader(tt.body))
			if !tt.fail {
				if err != nil {
					t.Fatalf("Decode = %v", err)
				}
				if w.Exercise != "back-squat" || len(w.Sets) != 3 || w.Sets[0].RPE != 7.5 {
					t.Errorf("decoded %+v", w)
				}
				return
			}
			if err == nil {
				t.Fatalf("Decode accepted %q", tt.body)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Decode = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestDecodeErrorsSpeakJSON: a body that does not decode is answered with
// the field at fault, in the JSON client's terms (no Go type names, no raw
// time-parsing errors).
func TestDecodeErrorsSpeakJSON(t *testing.T) {
	tests := []struct {
		name, body, field string
		want              string
	}{
		{"date-only performed_at", `{"performed_at":"2026-11-20"}`, "performed_at", "RFC 3339"},
		{"reps as a string", `{"sets":[{"reps":"five"}]}`, "sets[0].reps", "must be a number"},
		{"fractional reps", `{"sets":[{"reps":5},{"reps":2.5}]}`, "sets[1].reps", "whole number"},
		{"sets as a string", `{"sets":"five"}`, "sets", "must be an array"},
		{"unit as a number", `{"unit":1}`, "unit", "must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBytes([]byte(tt.body))
			var fe FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("DecodeBytes = %v, want FieldErrors", err)
			}
			msg := fe[tt.field]
			if !strings.Contains(msg, tt.want) {
				t.Errorf("%s: %q, want it to say %q (all: %v)", tt.field, msg, tt.want, fe)
			}
			for _, goName := range []string{"int", "float64", "time.Time", "[]workout", "Go value", "parsing time", "workout.Set"} {
				if strings.Contains(err.Error(), goName) {
					t.Errorf("error %q exposes %q", err, goName)
				}
			}
		})
	}
	_, err := DecodeBytes([]byte(`{"bogus":1}`))
	if err == nil || !strings.Contains(err.Error(), `unknown field "bogus"`) || strings.Contains(err.Error(), "json:") {
		t.Errorf("unknown field: %v", err)
	}
}

func TestWeightKg(t *testing.T) {
	w := Workout{Unit: Pounds}
	if got := w.WeightKg(Set{Weight: 220.46226218}); got < 99.999 || got > 100.001 {
		t.Errorf("220.46 lb = %v kg", got)
	}
	w.Unit = Kilograms
	if got := w.WeightKg(Set{Weight: 100}); got != 100 {
		t.Errorf("100 kg = %v kg", got)
	}
}

// FuzzDecode checks that the decoder never panics, never accepts a body
// over the size limit, and that whatever it accepts survives a round trip
// through JSON unchanged (so the consumer stores what the web app sent).
func FuzzDecode(f *testing.F) {
	good, err := os.ReadFile("testdata/valid.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"sets":[{"reps":1e400}]}`))
	f.Add([]byte(`{"performed_at":"2026-13-45T99:00:00Z"}`))
	f.Add([]byte(`{"id":"a"}{"id":"b"}`))
	f.Add([]byte("\xff\xfe{}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := DecodeBytes(body)
		if err != nil {
			return
		}
		if len(body) > MaxBodyBytes {
			t.Fatalf("accepted %d bytes", len(body))
		}
		_ = w.Validate(now) // must not panic on anything decodable
		again, err := json.Marshal(w)
		if err != nil {
			// A decoded time can be out of range for encoding; such a body
			// is never valid.
			if w.Validate(now) == nil {
				t.Fatalf("valid workout does not encode: %v", err)
			}
			return
		}
		w2, err := DecodeBytes(again)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", again, err)
		}
		b2, _ := json.Marshal(w2)
		if !bytes.Equal(again, b2) {
			t.Fatalf("round trip changed the workout:\n%s\n%s", again, b2)
		}
	})
}

func TestCustomExercises(t *testing.T) {
	for name, want := range map[string]string{
		"Bulgarian split squat":     "custom-bulgarian-split-squat",
		"  Nordic curl (band)!! ":   "custom-nordic-curl-band",
		"Überzug":                   "custom-berzug",
		"!!!":                       "",
		strings.Repeat("long ", 20): "custom-long-long-long-long-long-long-long-long-l",
	} {
		got := CustomKey(name)
		if got != want {
			t.Errorf("CustomKey(%q) = %q, want %q", name, got, want)
		}
		if got != "" && !IsCustomKey(got) {
			t.Errorf("CustomKey(%q) = %q is not a custom key", name, got)
		}
	}
	for _, bad := range []string{"custom-", "custom--x", "custom-X", "squat", "custom-a b", "custom-" + strings.Repeat("a", 60)} {
		if IsCustomKey(bad) {
			t.Errorf("IsCustomKey(%q)", bad)
		}
	}
	now := time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC)
	w := Workout{ID: "00000000-0000-4000-8000-000000000001", UserID: "u", Exercise: "custom-sled-push", PerformedAt: now, Unit: Kilograms,
		Sets: []Set{{Reps: 40}, {Reps: 20, Weight: 80}}, LoggedAt: now}
	if err := w.Validate(now); err != nil {
		t.Errorf("custom exercise workout: %v", err)
	}
	w.Sets[0].Reps = MaxSeconds + 1
	if err := w.Validate(now); err == nil {
		t.Error("a custom set over the limit validated")
	}
}
