package render

import (
	"encoding/json"
	"reflect"
	"testing"

	"sigs.k8s.io/kustomize/api/resource"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestToJSONMap: decoding the YAML node tree gives the same data, with the
// same Go types, as kyaml's MarshalJSON decoded with apimachinery's JSON
// package (the path it replaces), encodes to the same JSON, and fails
// where that path fails.
func TestToJSONMap(t *testing.T) {
	for name, doc := range map[string]string{
		"numbers": `a: 1
b: -7
c: 1.0
d: 1.5
e: 1e3
g: 9223372036854775807
h: -9223372036854775808
i: 1e21
j: 2.5e-7
k: 0x1F
l: 0o17
n: 9.3e18
o: "12"
`,
		"an integer beyond int64": "f: 12345678901234567890\n",
		"negative zero":           "m: -0.0\n",
		"scalars": `s: plain
t: true
u: null
v: ~
w: 2024-01-02
x: 2024-01-02T03:04:05Z
y: !!binary aGVsbG8=
z: "quoted: $HOME"
e: ""
`,
		"nested": `spec:
  list: [1, 2.0, "3", {a: [x, 4]}, [], {}]
  map: {k: {l: {m: 1.25}}}
  empty: {}
`,
		"integer mapping keys": "a: {1: x, y: 2, 0x10: z}\nb: {-3: x}\n",
		"anchors and merge keys": `base: &b {x: 1, y: two}
derived:
  <<: *b
  y: 2
alias: *b
`,
		"a Deployment": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: web
          image: web@sha256:0123
          ports: [{containerPort: 8080}]
          resources: {limits: {cpu: 0.5, memory: 128Mi}}
`,
	} {
		t.Run(name, func(t *testing.T) {
			rs := parseResource(t, doc)
			data, err := rs.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			want, err := jsonBytesToMap(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := toJSONMap(rs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("toJSONMap:\n%#v\nMarshalJSON + decode:\n%#v", got, want)
			}
			// The substitution encodes the map as the text it works on:
			// that must be MarshalJSON's text, but for an integer beyond
			// int64 and negative zero, which come out of the substitution
			// as the same float64 and int64 both ways.
			text, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if name != "an integer beyond int64" && name != "negative zero" && string(text) != string(data) {
				t.Errorf("json.Marshal(toJSONMap):\n%s\nMarshalJSON:\n%s", text, data)
			}
		})
	}
	for name, doc := range map[string]string{
		"an infinite number":    "a: .inf\n",
		"not a number":          "a: .nan\n",
		"a boolean mapping key": "a: {true: y}\n",
		"a float mapping key":   "a: {x: 1, 1.5: z}\n",
		"a null mapping key":    "a: {null: n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			rs := parseResource(t, doc)
			if _, err := rs.MarshalJSON(); err == nil {
				t.Fatal("MarshalJSON accepts it; the test expects the old path to fail")
			}
			if m, err := toJSONMap(rs); err == nil {
				t.Errorf("toJSONMap = %v, want an error as MarshalJSON gives", m)
			}
		})
	}
}

func parseResource(t *testing.T, doc string) *resource.Resource {
	t.Helper()
	rn, err := kyaml.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &resource.Resource{RNode: *rn}
}
