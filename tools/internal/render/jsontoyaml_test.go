package render

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	for _, root := range []string{"../../../apps", "../../../infrastructure", "../../../clusters", "../validate/testdata"} {
		objects += compareTree(t, root)
	}
	if objects < 100 {
		t.Errorf("compared %d objects, want the fixtures' hundreds", objects)
	}
}

// compareTree compares every YAML document under root, as JSON, and
// returns how many it compared.
func compareTree(t *testing.T, root string) int {
	n := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, doc := range strings.Split(string(data), "\n---") {
			var v any
			if yaml.Unmarshal([]byte(doc), &v) != nil || v == nil {
				continue
			}
			j, err := json.Marshal(v)
			if err != nil {
				continue
			}
			n++
			t.Run(fmt.Sprintf("%s#%d", filepath.ToSlash(path), i), func(t *testing.T) { compareJSONToYAML(t, j) })
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
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
}
