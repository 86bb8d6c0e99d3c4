package netflow

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func loadObjects(t *testing.T, path string) []Object {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var objs []Object
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, Object{U: &unstructured.Unstructured{Object: m}, File: path})
	}
	return objs
}

// fixture flows: the endpoints of testdata/objects.yaml and what they need.
const baseFlows = `endpoints:
  web: {namespace: app, pods: {app: web}}
  db: {namespace: data, pods: {app: db}}
  dump: {namespace: data, pods: {app: dump}}
  gw: {namespace: edge, pods: {app: gw}}
  lan: {cidr: 10.1.0.0/16}
  public: {cidr: ${PUBLIC}}
flows:
  - {from: gw, to: web, ports: ["8080"], why: routed}
  - {from: web, to: db, ports: ["5432"], why: queries}
  - {from: web, to: public, ports: ["443"], why: identity keys}
  - {from: gw, to: db, ports: ["9187"], why: metrics}
`

func checkFlows(t *testing.T, flows string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flows.yaml")
	if err := os.WriteFile(path, []byte(flows), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path, map[string]string{"PUBLIC": "198.51.100.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	probs, _, err := Check(f, loadObjects(t, filepath.Join("testdata", "objects.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range probs {
		out = append(out, p.String())
	}
	return out
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		flows string
		want  []string // substrings, one per problem, in order
	}{
		{"the declared flows are exactly what the policies allow", baseFlows, nil},
		{
			"a declared flow a policy blocks names the restricting policies",
			strings.Replace(baseFlows, `  - {from: web, to: public, ports: ["443"], why: identity keys}`,
				"  - {from: web, to: public, ports: [\"443\"], why: identity keys}\n  - {from: web, to: lan, ports: [\"443\"], why: a LAN service}", 1),
			[]string{"declared flow web -> lan 443/TCP (a LAN service) is blocked: egress of web restricted by [NetworkPolicy/app/default-deny NetworkPolicy/app/web], and none of them allows it"},
		},
		{
			"ingress side blocks",
			strings.Replace(baseFlows, `ports: ["5432"], why: queries}`, `ports: ["5432", "5433"], why: queries}`, 1),
			[]string{"declared flow web -> db 5433/TCP (queries) is blocked: egress of web restricted by [NetworkPolicy/app/default-deny NetworkPolicy/app/web], and none of them allows it; ingress of db restricted by"},
		},
		{
			"an undeclared flow names the policy that lets it through",
			strings.Replace(baseFlows, "  - {from: gw, to: db, ports: [\"9187\"], why: metrics}\n", "", 1),
			[]string{"testdata/objects.yaml: NetworkPolicy/data/db-exporter: undeclared flow gw -> db 9187/TCP is allowed: no NetworkPolicy restricts egress of gw; ingress allowed by [NetworkPolicy/data/db-exporter]"},
		},
		{
			"ipBlock rules match addresses, never pods",
			strings.Replace(baseFlows, "  - {from: web, to: public, ports: [\"443\"], why: identity keys}\n",
				"  - {from: web, to: public, ports: [\"443\"], why: identity keys}\n  - {from: web, to: gw, ports: [\"443\"], why: pods are not public addresses}\n", 1),
			[]string{"declared flow web -> gw 443/TCP (pods are not public addresses) is blocked: egress of web restricted by"},
		},
		{
			"a workload that is no endpoint",
			strings.Replace(baseFlows, "  dump: {namespace: data, pods: {app: dump}}\n", "", 1),
			[]string{"CronJob/data/dump: its pods are no endpoint of"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkFlows(t, tt.flows)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems:\n%s\nwant %d", len(got), strings.Join(got, "\n"), len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d:\n%s\nwant it to contain\n%s", i, got[i], w)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, flows, want string
	}{
		{"unknown endpoint", "endpoints:\n  a: {cidr: 10.0.0.0/8}\nflows:\n  - {from: a, to: b, ports: [\"1\"], why: x}\n", ":4: flow: to names endpoint \"b\""},
		{"no why", "endpoints:\n  a: {cidr: 10.0.0.0/8}\nflows:\n  - {from: a, to: a, ports: [\"1\"]}\n", ":4: flow without why"},
		{"bad port", "endpoints:\n  a: {cidr: 10.0.0.0/8}\nflows:\n  - {from: a, to: a, ports: [\"70000\"], why: x}\n", `:4: flow: port "70000"`},
		{"bad protocol", "endpoints:\n  a: {cidr: 10.0.0.0/8}\nflows:\n  - {from: a, to: a, ports: [\"53/ICMP\"], why: x}\n", "protocol ICMP"},
		{"cidr and pods", "endpoints:\n  a: {cidr: 10.0.0.0/8, namespace: x, pods: {a: b}}\nflows: []\n", ":2: endpoint a: give either cidr or namespace and pods"},
		{"pods without labels", "endpoints:\n  a: {namespace: x}\nflows: []\n", ":2: endpoint a: pods need a namespace"},
		{"bad cidr", "endpoints:\n  a: {cidr: 10.0.0.0/33}\nflows: []\n", ":2: endpoint a: cidr"},
		{"unknown field", "endpoints:\n  a: {cidr: 10.0.0.0/8, port: 1}\nflows: []\n", "field port not found"},
		{"variable without value", "endpoints:\n  a: {cidr: ${NOPE}}\nflows: []\n", "variables without a value: NOPE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "flows.yaml")
			if err := os.WriteFile(path, []byte(tt.flows), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Load: %v, want an error naming %s and containing %q", err, path, tt.want)
			}
		})
	}
}
