package render

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/envsubst"
	"sigs.k8s.io/yaml"
)

// tricky are variable values, and pieces of strings, that YAML reads as
// something else than the text: numbers of every YAML 1.1 form, booleans,
// null, structure, comments, quotes, indicators, line breaks.
var tricky = []string{
	"", "1", "0", "-3", "+4", "1.5", ".5", "-.5", "1e3", "010", "0x1F", "0o7", "1_000", "1:20", ".inf", "-.inf", ".nan",
	"9223372036854775808", "18446744073709551616", "2026-12-05", "2026-12-05T10:00:00Z",
	"true", "no", "y", "N", "on", "OFF", "~", "null", "Null", "<<",
	"a: b", "a:b", "a :b", "x:", "#x", "a #b", "a#b", " x", "x ", "a  b", "[1]", "{a: 1}", "a,b", "a]", "-", "- x", "-x", "--", "---", "...", "..x",
	"?", "? x", ":", ": x", "|", "|-", ">", "*a", "&a x", "!!str 1", "!x", "%x", "@x", "`x", "'q'", "'q", "\"q\"", "\"q",
	"é", "日本", "x\u2028y", "x\u0085y", "\ufeffx", "a\tb", "a\nb", "a\r\nb", "\x7f", "\\", "\\/", "$", "$$", "$${A}",
	"ok", "app-0000", "https://app.example.com/x?y=1&z=2", "10.0.0.0/8", "1.2.3", "v1.2.3",
	strings.Repeat("word ", 20), strings.Repeat("x", 90),
}

// TestSubstituteData checks that substituteData substitutes as the YAML
// text's way (substitutionText, envsubst.Eval, substituted) does wherever
// it does not decline: on every document of the repository's manifests and
// fixtures with tricky variable values, and on generated objects whose
// strings mix variables with every piece of tricky, at every depth. It
// also checks that it declines rarely on ordinary manifests.
func TestSubstituteData(t *testing.T) {
	vars := map[string]string{"APP": "app-0000", "REPLICAS": "2", "DOMAIN": "example.com", "PORT": "8080"}
	for i, v := range tricky {
		vars["T"+string(rune('A'+i%26))+string(rune('A'+i/26))] = v
	}
	mapping := func(name string) (string, bool) { return vars[name], true }

	var docs, fast int
	forEachDocument(t, func(name, doc string) {
		data, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return
		}
		m, err := jsonBytesToMap(data)
		if err != nil || m == nil {
			return
		}
		docs++
		if compareSubstituteData(t, name, m, mapping) {
			fast++
		}
	})
	if docs < 100 || fast < docs*9/10 {
		t.Errorf("substituted %d of %d documents string by string, want nine in ten of hundreds", fast, docs)
	}

	// Generated objects: strings built from variables and tricky pieces,
	// under keys of every length (folding at column 80), in maps and
	// lists nested up to four deep.
	r := rand.New(rand.NewPCG(17, 2026))
	names := []string{"APP", "REPLICAS", "MISSING", "PORT"}
	for n := range vars {
		if strings.HasPrefix(n, "T") {
			names = append(names, n)
		}
	}
	piece := func() string {
		switch r.IntN(6) {
		case 0:
			return "${" + names[r.IntN(len(names))] + "}"
		case 1:
			return "${" + names[r.IntN(len(names))] + ":=" + tricky[r.IntN(len(tricky))] + "}"
		case 2:
			return "${" + names[r.IntN(len(names))] + "/a/b}"
		default:
			return tricky[r.IntN(len(tricky))]
		}
	}
	str := func() string {
		var b strings.Builder
		for range 1 + r.IntN(4) {
			b.WriteString(piece())
		}
		return b.String()
	}
	var value func(depth int) any
	value = func(depth int) any {
		switch k := r.IntN(10); {
		case depth < 4 && k < 2:
			m := map[string]any{}
			for range 1 + r.IntN(3) {
				m[strings.Repeat("k", 1+r.IntN(30))] = value(depth + 1)
			}
			return m
		case depth < 4 && k < 4:
			var l []any
			for range 1 + r.IntN(3) {
				l = append(l, value(depth+1))
			}
			return l
		case k < 5:
			return []any{int64(r.IntN(100)), 1.5, true, nil}[r.IntN(4)]
		default:
			return str()
		}
	}
	// Strings long enough for YAML v2 to fold them at a space beyond
	// column 80, under keys of every length: an empty variable before the
	// fold leaves a trailing space that reading the text drops.
	for n := 40; n < 90; n++ {
		for _, key := range []string{"k", strings.Repeat("k", 20)} {
			for _, s := range []string{strings.Repeat("x", n) + " ${MISSING} tail", strings.Repeat("x", n) + " ${APP} ${MISSING} tail", "a ${MISSING}" + strings.Repeat(" b", n/2)} {
				compareSubstituteData(t, fmt.Sprintf("%q under %q", s, key), map[string]any{"data": map[string]any{key: s, "list": []any{s}}}, mapping)
			}
		}
	}

	var generated, generatedFast int
	for i := range 20000 {
		m := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": value(0)}
		if r.IntN(20) == 0 {
			m[str()] = "key"
		}
		generated++
		if compareSubstituteData(t, fmt.Sprintf("generated object %d", i), m, mapping) {
			generatedFast++
		}
	}
	if generatedFast < generated/10 {
		t.Errorf("substituted %d of %d generated objects string by string, want more than a tenth", generatedFast, generated)
	}
	t.Logf("string by string: %d of %d documents, %d of %d generated objects", fast, docs, generatedFast, generated)
}

// compareSubstituteData compares both ways on m and reports whether
// substituteData took it.
func compareSubstituteData(t *testing.T, name string, m map[string]any, mapping func(string) (string, bool)) bool {
	t.Helper()
	got, ok := substituteData(m, mapping)
	if !ok {
		return false
	}
	text, err := substitutionText(m)
	if err != nil {
		t.Fatalf("%s: substitutionText: %v", name, err)
	}
	out, err := envsubst.Eval(string(text), mapping)
	var want map[string]any
	if err == nil {
		want, err = substituted([]byte(out))
	}
	if err != nil {
		t.Errorf("%s: substituteData took %#v, but the text's way fails: %v\ntext:\n%s", name, m, err, text)
		return true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: substituteData(%#v) =\n%#v\nthe text's way:\n%#v\nsubstituted text:\n%s", name, m, got, want, out)
	}
	return true
}
