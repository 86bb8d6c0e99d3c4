package render

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestJSONToYAML checks that jsonToYAML writes the text JSONToYAML writes,
// which is what Flux substitutes variables in: numbers of every range and
// form, strings that look like other types, keys that sort oddly, and every
// object of this repository's manifests and the validator's fixtures.
func TestJSONToYAML(t *testing.T) {
	cases := map[string]string{
		"ints":          `{"a":0,"b":-0,"c":1,"d":-1,"e":9223372036854775807,"f":-9223372036854775808}`,
		"uint64":        `{"a":9223372036854775808,"b":18446744073709551615}`,
		"beyond uint64": `{"a":18446744073709551616,"b":-9223372036854775809}`,
		"floats":        `{"a":1.0,"b":-0.0,"c":1.5,"d":1e3,"e":1E-7,"f":2.5e+10,"g":0.1}`,
		"out of range":  `{"a":1e400,"b":-1e400,"c":1e-400}`,
		"literals":      `{"a":true,"b":false,"c":null,"d":[true,null,0]}`,
		"look-alikes":   `{"a":"1","b":"true","c":"null","d":"~","e":"2026-12-05","f":"0x1F","g":"1_000","h":"y","i":".inf","j":"${VAR}","k":"-","l":""}`,
		"keys":          `{"10":1,"9":2,"a10":3,"a9":4,"B":5,"b":6,"true":7,"<<":8,"":9,"${K}":10}`,
		"nested":        `{"a":{"b":[{"c":[]},{},[],[[1,"x"]]]},"z":{}}`,
		"text":          `{"a":"line1\nline2\n","b":"tab\there","c":"quote \" and \\ backslash","d":"ünïcødé ✓","e":"  leading","f":"trailing  ","g":"#hash","h":"a: b","i":"- item","j":"\u0000\u001f"}`,
		"long":          `{"a":"` + strings.Repeat("word ", 40) + `"}`,
		"array":         `[1,"two",3.5,{"four":4}]`,
		"scalar":        `"just a string"`,
		"not JSON":      `{"a":1,}`,
		"trailing":      `{"a":1} {"b":2}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) { compareJSONToYAML(t, []byte(in)) })
	}
	objects := 0
	forEachDocument(t, func(name, doc string) {
		var v any
		if yaml.Unmarshal([]byte(doc), &v) != nil || v == nil {
			return
		}
		j, err := json.Marshal(v)
		if err != nil {
			return
		}
		objects++
		t.Run(name, func(t *testing.T) { compareJSONToYAML(t, j) })
	})
	if objects < 100 {
		t.Errorf("compared %d objects, want the fixtures' hundreds", objects)
	}
}

// forEachDocument calls fn with every YAML document of this repository's
// manifests and the validator's fixtures, named by file and index.
func forEachDocument(t *testing.T, fn func(name, doc string)) {
	t.Helper()
	for _, root := range []string{"../../../apps", "../../../infrastructure", "../../../clusters", "../validate/testdata"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, doc := range strings.Split(string(data), "\n---") {
				fn(fmt.Sprintf("%s#%d", filepath.ToSlash(path), i), doc)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func compareJSONToYAML(t *testing.T, in []byte) {
	t.Helper()
	want, wantErr := yaml.JSONToYAML(in)
	got, gotErr := jsonToYAML(in)
	if (wantErr != nil) != (gotErr != nil) {
		t.Fatalf("jsonToYAML(%s) error %v, JSONToYAML error %v", in, gotErr, wantErr)
	}
	if string(got) != string(want) {
		t.Errorf("jsonToYAML(%s):\n%s\nJSONToYAML:\n%s", in, got, want)
	}
	// substitutionText starts from the decoded object instead.
	m, err := jsonBytesToMap(in)
	if err != nil || m == nil {
		return
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if want, err = yaml.JSONToYAML(data); err != nil {
		t.Fatal(err)
	}
	if got, err = substitutionText(m); err != nil || string(got) != string(want) {
		t.Errorf("substitutionText(%s) = %s, %v; JSONToYAML of its JSON:\n%s", in, got, err, want)
	}
}

// TestSubstituted checks that substituted reads substituted text into what
// YAMLToJSON and jsonBytesToMap make of it, or fails as they do: YAML v2's
// types (yes/no, timestamps, binary), numbers of every range, keys that are
// not strings or collide once written as strings, documents that are not
// objects, and every document of this repository's manifests and the
// validator's fixtures.
func TestSubstituted(t *testing.T) {
	cases := map[string]string{
		"yaml 1.1":       "a: yes\nb: off\nc: ~\nd: 2026-12-05\ne: 2026-12-05T10:00:00Z\nf: 0x1F\ng: 010\nh: 1_000\n",
		"numbers":        "a: 1.0\nb: -0.0\nc: 1e21\nd: 1e20\ne: 9223372036854775807\nf: 9223372036854775808\ng: 18446744073709551616\nh: 0.1\ni: -9223372036854775808\n",
		"special floats": "a: .inf\n",
		"nan":            "a: .nan\n",
		"keys":           "1: a\n1.5: b\ntrue: c\n-2: d\n.inf: e\n",
		"null key":       "~: a\n",
		"binary":         "a: !!binary gIGC\n",
		"binary text":    "a: !!binary aGVsbG8=\n",
		"nested":         "a:\n  b:\n  - 1\n  - c: [x, {d: e}]\n  - []\n  - {}\n",
		"list":           "- a\n- b\n",
		"scalar":         "just text\n",
		"empty":          "",
		"null":           "null\n",
		"broken":         "a: [\n",
		"merge":          "a: &x {b: 1}\nc:\n  <<: *x\n  d: 2\n",
		"duplicate keys": "a: 1\na: 2\n",
		"text":           "a: |\n  line1\n  line2\nb: 'quote '' and \\\\'\nc: \"\\u00fc \\t\"\n",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) { compareSubstituted(t, []byte(text)) })
	}
	// Keys that collide once written as strings: sigs.k8s.io/yaml keeps
	// whichever its map iteration writes last.
	m, err := substituted([]byte("1: a\n\"1\": b\n"))
	if err != nil || len(m) != 1 || m["1"] != "a" && m["1"] != "b" {
		t.Errorf("colliding keys: %v, %v", m, err)
	}
	docs := 0
	forEachDocument(t, func(name, doc string) {
		docs++
		t.Run(name, func(t *testing.T) { compareSubstituted(t, []byte(doc)) })
	})
	if docs < 100 {
		t.Errorf("compared %d documents, want the fixtures' hundreds", docs)
	}
}

func compareSubstituted(t *testing.T, text []byte) {
	t.Helper()
	var want map[string]any
	data, wantErr := yaml.YAMLToJSON(text)
	if wantErr == nil {
		want, wantErr = jsonBytesToMap(data)
	}
	got, gotErr := substituted(text)
	if (wantErr != nil) != (gotErr != nil) || wantErr != nil && !strings.Contains(gotErr.Error(), wantErr.Error()) {
		t.Fatalf("substituted(%q) error %v, YAMLToJSON and decoding: %v", text, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("substituted(%q) =\n%#v\nYAMLToJSON and decoding:\n%#v", text, got, want)
	}
}
