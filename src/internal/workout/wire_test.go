package workout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// decodeGeneral is DecodeBytes without the canonical fast path.
func decodeGeneral(t *testing.T, data []byte) (Workout, error) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var in struct {
		Workout
		PerformedAt *json.RawMessage `json:"performed_at"`
		LoggedAt    *json.RawMessage `json:"logged_at"`
	}
	if err := dec.Decode(&in); err != nil {
		return Workout{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return Workout{}, fmt.Errorf("data after the object (%v)", err)
	}
	w := in.Workout
	for _, f := range []struct {
		raw *json.RawMessage
		dst *time.Time
	}{{in.PerformedAt, &w.PerformedAt}, {in.LoggedAt, &w.LoggedAt}} {
		if f.raw != nil {
			if err := json.Unmarshal(*f.raw, f.dst); err != nil {
				return Workout{}, err
			}
		}
	}
	return w, nil
}

var canonicalSeeds = []string{
	`{"id":"0b8a1c9e-2f4d-4e6a-9c1b-3d5e7f9a1b2c","user_id":"ann@example.com","exercise":"back-squat","performed_at":"2026-11-24T18:30:00+01:00","unit":"kg","sets":[{"reps":5,"weight":100},{"reps":5,"weight":102.5,"rpe":8.5}],"notes":"felt good","logged_at":"2026-11-24T18:45:00.123Z"}`,
	`{"exercise":"back-squat","performed_at":"2026-12-04T21:00:00Z","unit":"kg","sets":[{"reps":5,"weight":100},{"reps":5,"weight":100},{"reps":4,"weight":100}]}`,
	" {\n \"sets\" : [ ] , \"unit\":\"lb\"\t}\r\n",
	`{"sets":[{"reps":-0,"weight":-0.0,"rpe":1e-7}],"notes":"é ü 日本"}`,
	`{"sets":[{"reps":1,"weight":1E+2},{"weight":0.000001,"rpe":1e21}]}`,
	`{}`,
	// Left to encoding/json: each must decode (or fail) as it decides.
	`{"ID":"x"}`,
	`{"id":"a","id":"b"}`,
	`{"notes":"line\nbreak"}`,
	`{"notes":null}`,
	`{"sets":null}`,
	`{"sets":[{"reps":5.0}]}`,
	`{"sets":[{"reps":99999999999999999999}]}`,
	`{"sets":[{"weight":1e999}]}`,
	`{"sets":[{"weight":01}]}`,
	`{"performed_at":"2026-11-24 18:30:00"}`,
	`{"performed_at":"2026-11-24T25:30:00Z"}`,
	`{"unit":"kg"} {}`,
	`{"unit":"kg",}`,
	"{\"notes\":\"\xff\"}",
	`{"extra":1}`,
	`[]`,
	``,
}

// FuzzDecodeCanonical checks that whatever the fast path accepts,
// encoding/json decodes to the same workout.
func FuzzDecodeCanonical(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	if data, err := os.ReadFile("testdata/valid.json"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeCanonical(data)
		if !ok {
			return
		}
		want, err := decodeGeneral(t, data)
		if err != nil {
			t.Fatalf("fast path accepted %q, encoding/json refused it: %v", data, err)
		}
		if !sameWorkout(fast, want) {
			t.Fatalf("decoding %q:\nfast path     %#v\nencoding/json %#v", data, fast, want)
		}
	})
}

// sameWorkout compares two workouts, their times by instant and offset.
func sameWorkout(a, b Workout) bool {
	for _, p := range [][2]time.Time{{a.PerformedAt, b.PerformedAt}, {a.LoggedAt, b.LoggedAt}} {
		_, oa := p[0].Zone()
		_, ob := p[1].Zone()
		if !p[0].Equal(p[1]) || oa != ob {
			return false
		}
	}
	a.PerformedAt, a.LoggedAt, b.PerformedAt, b.LoggedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func TestDecodeCanonicalTakesWhatClientsSend(t *testing.T) {
	data, err := os.ReadFile("testdata/valid.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{string(data), canonicalSeeds[0], canonicalSeeds[1], canonicalSeeds[2]} {
		if _, ok := decodeCanonical([]byte(body)); !ok {
			t.Errorf("fast path refused %s", body)
		}
	}
	for _, body := range canonicalSeeds[6:] {
		if _, ok := decodeCanonical([]byte(body)); ok {
			t.Errorf("fast path accepted %q, which is encoding/json's to decode", body)
		}
	}
}

// FuzzAppendJSON checks that AppendJSON writes what json.Marshal writes.
func FuzzAppendJSON(f *testing.F) {
	f.Add("0b8a1c9e-2f4d-4e6a-9c1b-3d5e7f9a1b2c", "ann@example.com", "back-squat", int64(1764005400), 0, 3600, "kg", 5, 102.5, 8.5, "")
	f.Add("", "<b>&", "x\"y\\z", int64(-62135596800), 999999999, -34200, "lb", -1, 1e-7, 1e21, "é\u2028\n\x01\xff")
	f.Add("", "", "", int64(253402300800), 1, 45, "", 0, math.Copysign(0, -1), 123456789012.5, "a")
	f.Add("", "", "", int64(0), 0, 0, "", math.MaxInt32, math.Inf(1), math.NaN(), "")
	f.Fuzz(func(t *testing.T, id, user, exercise string, sec int64, nsec, offset int, unit string, reps int, weight, rpe float64, notes string) {
		at := time.Unix(sec, int64(nsec)).In(time.FixedZone("", offset))
		w := Workout{ID: id, UserID: user, Exercise: exercise, PerformedAt: at, Unit: Unit(unit),
			Sets: []Set{{Reps: reps, Weight: weight, RPE: rpe}, {Reps: 1, Weight: weight / 3}}, Notes: notes, LoggedAt: at.UTC()}
		for _, w := range []Workout{w, {Sets: nil}, {Sets: []Set{}}} {
			want, wantErr := json.Marshal(w)
			got, err := AppendJSON([]byte("prefix"), w)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("AppendJSON error %v, json.Marshal error %v", err, wantErr)
			}
			if err != nil {
				continue
			}
			if string(got) != "prefix"+string(want) {
				t.Fatalf("AppendJSON:\n%s\njson.Marshal:\n%s", got[len("prefix"):], want)
			}
		}
	})
}

func TestValidIDMatchesTheUUIDPattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	base := "0b8a1c9e-2f4d-4e6a-9c1b-3d5e7f9a1b2c"
	ids := []string{base, strings.ToUpper(base), "", base + "0", base[1:], "0b8a1c9e-2f4d-9e6a-9c1b-3d5e7f9a1b2c", "0b8a1c9e-2f4d-0e6a-9c1b-3d5e7f9a1b2c"}
	// Every character position, each replaced by every byte.
	for i := range len(base) {
		for c := range 256 {
			ids = append(ids, base[:i]+string(rune(c))+base[i+1:], base[:i]+string([]byte{byte(c)})+base[i+1:])
		}
	}
	for _, id := range ids {
		if got, want := ValidID(id), pattern.MatchString(id); got != want {
			t.Errorf("ValidID(%q) = %v, the pattern says %v", id, got, want)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data, err := os.ReadFile("testdata/valid.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBytes(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	data, err := os.ReadFile("testdata/valid.json")
	if err != nil {
		b.Fatal(err)
	}
	w, err := DecodeBytes(data)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		if buf, err = AppendJSON(buf[:0], w); err != nil {
			b.Fatal(err)
		}
	}
}
