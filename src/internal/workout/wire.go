package workout

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The web app decodes a workout and encodes it again on every POST, and the
// consumer decodes every message: through encoding/json's reflection that
// was about a tenth of a confirmed POST's CPU time. The functions below
// handle the form those bodies take in practice directly, and leave every
// other input to encoding/json, so that results and error messages stay
// exactly encoding/json's (FuzzDecodeCanonical and FuzzAppendJSON compare
// the two).

// AppendJSON appends w as json.Marshal encodes it.
func AppendJSON(b []byte, w Workout) ([]byte, error) {
	if !plainTime(w.PerformedAt) || !plainTime(w.LoggedAt) {
		return appendMarshal(b, w)
	}
	start := len(b)
	b = append(b, `{"id":`...)
	b = appendString(b, w.ID)
	b = append(b, `,"user_id":`...)
	b = appendString(b, w.UserID)
	b = append(b, `,"exercise":`...)
	b = appendString(b, w.Exercise)
	b = append(b, `,"performed_at":"`...)
	b = w.PerformedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","unit":`...)
	b = appendString(b, string(w.Unit))
	b = append(b, `,"sets":`...)
	if w.Sets == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range w.Sets {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"reps":`...)
			b = strconv.AppendInt(b, int64(s.Reps), 10)
			b = append(b, `,"weight":`...)
			var ok bool
			if b, ok = appendFloat(b, s.Weight); !ok {
				return appendMarshal(b[:start], w)
			}
			if s.RPE != 0 {
				b = append(b, `,"rpe":`...)
				if b, ok = appendFloat(b, s.RPE); !ok {
					return appendMarshal(b[:start], w)
				}
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if w.Notes != "" {
		b = append(b, `,"notes":`...)
		b = appendString(b, w.Notes)
	}
	b = append(b, `,"logged_at":"`...)
	b = w.LoggedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if w.Version != 0 {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, w.Version, 10)
	}
	if w.Deleted {
		b = append(b, `,"deleted":true`...)
	}
	return append(b, '}'), nil
}

// appendMarshal is the general case: encoding/json, with its errors.
func appendMarshal(b []byte, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, data...), nil
}

// plainTime reports whether t encodes as its RFC 3339 form without an
// error: a four-digit year and a zone offset of whole minutes under a day.
func plainTime(t time.Time) bool {
	_, offset := t.Zone()
	return t.Year() >= 0 && t.Year() <= 9999 && offset%60 == 0 && offset > -24*3600 && offset < 24*3600
}

// appendString quotes s; a string with anything encoding/json escapes
// (quotes, backslashes, control characters, <, >, &, non-ASCII) is left to
// encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s) // a string always encodes
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat formats f as encoding/json does (ES6 number formatting);
// false for NaN and the infinities, which JSON cannot hold.
func appendFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// decodeCanonical decodes a workout object whose members carry the
// Workout's own lower-case names, each at most once, with strings of valid
// UTF-8 without escapes, numbers (whole ones for reps) and no nulls, and
// nothing after the object but white space. It reports false for any
// other input, valid or not.
func decodeCanonical(data []byte) (Workout, bool) {
	s := scanner{b: data}
	var w Workout
	var seen uint16
	ok := s.object(func(name []byte) bool {
		var bit uint16
		var ok bool
		switch string(name) {
		case "id":
			bit = 1 << 0
			w.ID, ok = s.str()
		case "user_id":
			bit = 1 << 1
			w.UserID, ok = s.str()
		case "exercise":
			bit = 1 << 2
			w.Exercise, ok = s.str()
		case "performed_at":
			bit = 1 << 3
			w.PerformedAt, ok = s.time()
		case "unit":
			bit = 1 << 4
			var u string
			u, ok = s.str()
			w.Unit = Unit(u)
		case "sets":
			bit = 1 << 5
			w.Sets, ok = s.sets()
		case "notes":
			bit = 1 << 6
			w.Notes, ok = s.str()
		case "logged_at":
			bit = 1 << 7
			w.LoggedAt, ok = s.time()
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return ok
	})
	if !ok {
		return Workout{}, false
	}
	s.space()
	return w, s.i == len(s.b)
}

// scanner reads the canonical form; every method reports false where the
// input leaves it.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and consumes c.
func (s *scanner) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads {"name": value, ...}, handing each name to member, which
// reads the value.
func (s *scanner) object(member func(name []byte) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		s.space()
		name, ok := s.raw()
		if !ok || !s.next(':') {
			return false
		}
		s.space()
		if !member(name) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// raw reads a string without escapes or control characters and returns
// its contents, which must be valid UTF-8.
func (s *scanner) raw() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for i := start; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			v := s.b[start:i]
			return v, utf8.Valid(v)
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

func (s *scanner) str() (string, bool) {
	v, ok := s.raw()
	return string(v), ok
}

// time reads a date-time as time.Time's UnmarshalJSON does.
func (s *scanner) time() (time.Time, bool) {
	start := s.i
	if _, ok := s.raw(); !ok {
		return time.Time{}, false
	}
	var t time.Time
	if err := t.UnmarshalJSON(s.b[start:s.i]); err != nil {
		return time.Time{}, false
	}
	return t, true
}

// number reads a JSON number and reports whether it had a fraction or an
// exponent.
func (s *scanner) number() (lit []byte, whole bool, ok bool) {
	start := s.i
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch n := digits(); {
	case n == 0:
		return nil, false, false
	case n > 1 && s.b[s.i-n] == '0':
		return nil, false, false
	}
	whole = true
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		whole = false
		if digits() == 0 {
			return nil, false, false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		whole = false
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return nil, false, false
		}
	}
	return s.b[start:s.i], whole, true
}

func (s *scanner) int() (int, bool) {
	lit, whole, ok := s.number()
	if !ok || !whole {
		return 0, false
	}
	n, err := strconv.Atoi(string(lit))
	return n, err == nil
}

func (s *scanner) float() (float64, bool) {
	lit, _, ok := s.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	return f, err == nil
}

// sets reads the sets array; an empty one decodes to an empty slice, as
// encoding/json decodes it.
func (s *scanner) sets() ([]Set, bool) {
	if !s.next('[') {
		return nil, false
	}
	sets := make([]Set, 0, 8)
	if s.next(']') {
		return sets, true
	}
	for {
		var set Set
		var seen uint8
		ok := s.object(func(name []byte) bool {
			var bit uint8
			var ok bool
			switch string(name) {
			case "reps":
				bit = 1 << 0
				set.Reps, ok = s.int()
			case "weight":
				bit = 1 << 1
				set.Weight, ok = s.float()
			case "rpe":
				bit = 1 << 2
				set.RPE, ok = s.float()
			default:
				return false
			}
			if seen&bit != 0 {
				return false
			}
			seen |= bit
			return ok
		})
		if !ok {
			return nil, false
		}
		sets = append(sets, set)
		if s.next(']') {
			return sets, true
		}
		if !s.next(',') {
			return nil, false
		}
	}
}
