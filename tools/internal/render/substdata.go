package render

import (
	"strings"
	"unicode/utf8"

	"github.com/fluxcd/pkg/envsubst"
	yamlv2 "go.yaml.in/yaml/v2"
)

// substituteData substitutes the variables in the strings of m (JSON-typed
// data) one string at a time, where that is certain to give what Flux's
// substitution of the whole object's YAML text gives; false where it is
// not, and the caller takes the text's way. Writing every object as YAML
// and reading it back took a fifth of a render's allocations.
//
// The text is what YAML v2 writes, so the per-string way holds when:
//   - every string holding a '$' is a value that YAML v2 writes as a plain
//     scalar on one line, verbatim (no quotes, no folding at 80 columns:
//     "a ${EMPTY}" folded before " b" reads back as "a b", not "a  b"),
//     and whose ${...} expressions end inside it: envsubst then sees the
//     same characters in the text and in the string;
//   - what the substitution makes of it is again a plain scalar on one
//     line with nothing YAML reads as structure (": ", " #", a leading
//     indicator): the text's parser then reads the same scalar, which is
//     resolved here as YAML v2 resolves it (a number, a boolean, null);
//   - no key holds a '$' or is a merge key (<<);
//   - every other value reads back as it was written, which YAML v2
//     guarantees for strings and which jsonOfYAML(yamlOfJSON(v)) does for
//     numbers.
//
// TestSubstituteData compares both ways on every document of the
// repository and on generated strings.
func substituteData(m map[string]any, mapping func(string) (string, bool)) (map[string]any, bool) {
	v, ok := substituteValue(m, 0, 0, mapping)
	if !ok {
		return nil, false
	}
	return v.(map[string]any), true
}

// substituteValue substitutes under v, a value whose block starts at
// column indent and whose scalar, if it is one, starts at column col.
func substituteValue(v any, indent, col int, mapping func(string) (string, bool)) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			// A key that is not printable is written with escapes, wider.
			if k == "<<" || strings.IndexByte(k, '$') >= 0 || !printable(k) {
				return nil, false
			}
			// A key may be quoted: two more columns.
			s, ok := substituteValue(e, indent+2, indent+len(k)+4, mapping)
			if !ok {
				return nil, false
			}
			out[k] = s
		}
		return out, true
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			s, ok := substituteValue(e, indent+2, indent+2, mapping)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	case string:
		if strings.IndexByte(v, '$') < 0 {
			return v, utf8.ValidString(v)
		}
		return substituteScalar(v, col, mapping)
	case bool, nil:
		return v, true
	default:
		y, ok := yamlOfJSON(v)
		if !ok {
			return nil, false
		}
		return jsonOfYAML(y)
	}
}

// substituteScalar substitutes the variables in s, a string value whose
// scalar starts at column col of the YAML text.
func substituteScalar(s string, col int, mapping func(string) (string, bool)) (any, bool) {
	if !plain(s) || strings.IndexByte(s, ' ') >= 0 && col+len(s) > 80 {
		// Quoted, or YAML v2 may fold it at a space beyond column 80.
		return nil, false
	}
	// A "${" not closed inside s fails here; in the text it would run on
	// into the following lines.
	out, err := envsubst.Eval(s, mapping)
	if err != nil {
		return nil, false
	}
	if out != "" && !plain(out) {
		return nil, false
	}
	return resolvePlain(out)
}

// plain reports whether s, on one line of a block after "key: " or "- ",
// is a plain scalar holding exactly s: YAML v2 writes a string holding a
// '$' (which no YAML type resolves) so, verbatim (its emitter's
// analyze_scalar and the encoder's stringv), and YAML reads it back so.
// False when unsure, and for the empty string, which YAML v2 writes
// quoted.
func plain(s string) bool {
	if s == "" || !printable(s) || strings.HasPrefix(s, "...") || strings.HasPrefix(s, "---") {
		return false
	}
	// A leading '-' is left to resolvePlain, which has YAML read what
	// starts with it: "--flag=${X}" and "-1" are plain, "- x" is not.
	if strings.IndexByte("?:,[]{}#&*!|>'\"%@` ", s[0]) >= 0 {
		return false
	}
	if s[len(s)-1] == ' ' || s[len(s)-1] == ':' {
		return false
	}
	return !strings.Contains(s, ": ") && !strings.Contains(s, " #")
}

// printable reports whether s is valid UTF-8 without tabs, line breaks
// (YAML 1.1 counts NEL, LS and PS), control characters or a byte order
// mark.
func printable(s string) bool {
	for _, r := range s {
		switch {
		case r == utf8.RuneError, r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0,
			r == 0x2028, r == 0x2029, r == 0xfeff:
			return false
		}
	}
	return true
}

// resolvePlain returns the JSON-typed value of s read as a plain scalar
// (plain, or empty) by YAML v2. Its resolve.go gives a string to every scalar
// whose first character is not a sign, a digit, a dot or one of
// "yYnNtTfFoO~" (which start its booleans and null, none longer than 5);
// the others are read by YAML v2 itself.
func resolvePlain(s string) (any, bool) {
	if s == "" {
		return nil, true
	}
	switch c := s[0]; {
	case strings.IndexByte("+-.0123456789", c) >= 0,
		strings.IndexByte("yYnNtTfFoO~", c) >= 0 && len(s) <= 5:
		var m map[string]any
		if err := yamlv2.Unmarshal([]byte("k: "+s+"\n"), &m); err != nil || len(m) != 1 {
			return nil, false
		}
		switch v := m["k"].(type) {
		case map[any]any, []any:
			return nil, false
		default:
			return jsonOfYAML(v)
		}
	}
	return s, true
}
