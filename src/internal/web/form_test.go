package web

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

func TestParseForm(t *testing.T) {
	const key = "6f1c0a3e-2b7d-4c55-9a1e-0d8f3b2c4e5a"
	base := func(kv ...string) url.Values {
		v := url.Values{"exercise": {"back-squat"}, "date": {"2026-11-18"}, "unit": {"kg"}, "idempotency_key": {key}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		values url.Values
		errs   workout.FieldErrors
		check  func(t *testing.T, w workout.Workout)
	}{
		{
			name:   "valid with a gap between rows and a decimal comma",
			values: base("reps_0", "5", "weight_0", "100", "reps_3", "3", "weight_3", "102,5", "rpe_3", "9.5", "notes", "  felt good "),
			check: func(t *testing.T, w workout.Workout) {
				want := []workout.Set{{Reps: 5, Weight: 100}, {Reps: 3, Weight: 102.5, RPE: 9.5}}
				if diff := cmp.Diff(want, w.Sets); diff != "" {
					t.Errorf("sets (-want +got):\n%s", diff)
				}
				if w.ID != key || w.Notes != "felt good" || w.UserID != "ana@example.com" {
					t.Errorf("workout %+v", w)
				}
				if !w.PerformedAt.Equal(time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)) {
					t.Errorf("performed at %s, want midday of the chosen day", w.PerformedAt)
				}
			},
		},
		{
			name:   "today uses the current time",
			values: base("date", "2026-11-20", "reps_0", "5", "weight_0", "100"),
			check: func(t *testing.T, w workout.Workout) {
				if !w.PerformedAt.Equal(now) {
					t.Errorf("performed at %s, want now", w.PerformedAt)
				}
			},
		},
		{
			name:   "bodyweight without weight",
			values: base("exercise", "pull-up", "reps_0", "8"),
		},
		{
			name:   "no sets",
			values: base(),
			errs:   workout.FieldErrors{"rows": "log at least one set"},
		},
		{
			name:   "errors point at the row as shown",
			values: base("reps_0", "5", "weight_0", "100", "reps_2", "0", "weight_2", "100", "reps_4", "5", "weight_4", "-3", "rpe_5", "11", "reps_5", "2", "weight_5", "100"),
			errs: workout.FieldErrors{
				"rows[2].reps":   "must be between 1 and 100",
				"rows[4].weight": "must be zero or more",
				"rows[5].rpe":    "must be between 1 and 10",
			},
		},
		{
			name:   "unparseable fields",
			values: base("reps_1", "5.5", "weight_1", "heavy", "rpe_1", "hard"),
			errs: workout.FieldErrors{
				"rows[1].reps":   "enter a whole number of reps",
				"rows[1].weight": "enter a number, e.g. 62.5",
				"rows[1].rpe":    "enter a number from 1 to 10",
			},
		},
		{
			name:   "unknown exercise, unit and a future date",
			values: base("exercise", "curl", "unit", "st", "date", "2026-12-25", "reps_0", "5", "weight_0", "10"),
			errs: workout.FieldErrors{
				"exercise": "unknown exercise; choose one from the list",
				"unit":     `must be "kg" or "lb"`,
				"date":     "is in the future",
			},
		},
		{
			name:   "missing exercise and date",
			values: url.Values{"unit": {"kg"}, "reps_0": {"5"}, "weight_0": {"5"}},
			errs:   workout.FieldErrors{"exercise": "choose an exercise", "date": "is required"},
		},
		{
			name:   "implausible weight in pounds",
			values: base("unit", "lb", "reps_0", "1", "weight_0", "1400"),
			errs:   workout.FieldErrors{"rows[0].weight": "more than 600 kg is not plausible"},
		},
		{
			name:   "notes too long",
			values: base("reps_0", "5", "weight_0", "100", "notes", strings.Repeat("n", 501)),
			errs:   workout.FieldErrors{"notes": "at most 500 characters"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, f, errs := ParseForm(tt.values, "ana@example.com", now)
			if diff := cmp.Diff(tt.errs, errs); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if f.Exercise != strings.TrimSpace(tt.values.Get("exercise")) {
				t.Errorf("form lost the exercise: %q", f.Exercise)
			}
			if tt.errs == nil && tt.check != nil {
				tt.check(t, w)
			}
		})
	}
}

func TestParseFormIdempotencyKey(t *testing.T) {
	v := url.Values{"exercise": {"pull-up"}, "date": {"2026-11-18"}, "unit": {"kg"}, "reps_0": {"5"}}
	for _, key := range []string{"", "not-a-uuid", "<script>"} {
		v.Set("idempotency_key", key)
		w, f, errs := ParseForm(v, "ana@example.com", now)
		if errs != nil || !workout.ValidID(w.ID) || w.ID != f.IdempotencyKey {
			t.Errorf("key %q: id %q form %q errs %v", key, w.ID, f.IdempotencyKey, errs)
		}
	}
	v.Set("idempotency_key", "6F1C0A3E-2B7D-4C55-9A1E-0D8F3B2C4E5A")
	if w, _, _ := ParseForm(v, "ana@example.com", now); w.ID != "6f1c0a3e-2b7d-4c55-9a1e-0d8f3b2c4e5a" {
		t.Errorf("an upper-case key was not kept: %q", w.ID)
	}
}

// FuzzParseForm: any form body either yields field errors or a workout
// that validates and survives the message encoding the consumer decodes.
func FuzzParseForm(f *testing.F) {
	f.Add("exercise=back-squat&date=2026-11-18&unit=kg&reps_0=5&weight_0=100")
	f.Add("exercise=pull-up&date=2026-11-20&unit=lb&reps_0=8&rpe_0=9,5&reps_5=1")
	f.Add("exercise=deadlift&date=2026-11-18&unit=kg&reps_0=5&weight_0=NaN&notes=%00")
	f.Add("exercise=plank&date=0001-01-01&unit=kg&reps_2=1e3&weight_2=Inf&idempotency_key=6f1c0a3e-2b7d-4c55-9a1e-0d8f3b2c4e5a")
	f.Add("reps_0=%2B5&weight_0=0x1p4&date=2026-11-19&exercise=bench-press&unit=kg")
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		w, form, errs := ParseForm(v, "ana@example.com", now)
		if !workout.ValidID(form.IdempotencyKey) {
			t.Fatalf("form key %q is not a UUID", form.IdempotencyKey)
		}
		if len(errs) > 0 {
			for k, msg := range errs {
				if k == "" || msg == "" {
					t.Fatalf("empty error entry %q: %q", k, msg)
				}
			}
			return
		}
		if err := w.Validate(now); err != nil {
			t.Fatalf("ParseForm accepted an invalid workout: %v", err)
		}
		data, err := json.Marshal(w)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		back, err := workout.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("decode own encoding: %v", err)
		}
		if diff := cmp.Diff(w, back); diff != "" {
			t.Fatalf("round trip (-sent +decoded):\n%s", diff)
		}
	})
}
