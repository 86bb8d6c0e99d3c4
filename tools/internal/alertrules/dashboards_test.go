package alertrules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Grafana dashboards beside the rules are checked here too: they are
// JSON Grafana loads, they query the provisioned datasource, and every
// query is PromQL that promtool parses.

type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		ID         int    `json:"id"`
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(monitoringDir, "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s/dashboards (%v)", monitoringDir, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&d); err != nil {
			t.Errorf("%s: not valid JSON: %v", f, err)
			continue
		}
		if dec.More() {
			t.Errorf("%s: data after the dashboard object", f)
		}
		out[f] = d
	}
	return out
}

func TestDashboards(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(monitoringDir, "config", "grafana-datasources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Datasources []struct {
			UID string `yaml:"uid"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &ds); err != nil || len(ds.Datasources) == 0 {
		t.Fatalf("grafana-datasources.yaml: %v (%d datasources)", err, len(ds.Datasources))
	}
	uids, titles := map[string]string{}, map[string]string{}
	generated := generatorFiles(t, "grafana-dashboards")
	for f, d := range loadDashboards(t) {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid and title are required", f)
		}
		if prev, dup := uids[d.UID]; dup {
			t.Errorf("%s: uid %q is also %s's", f, d.UID, prev)
		}
		if prev, dup := titles[d.Title]; dup {
			t.Errorf("%s: title %q is also %s's", f, d.Title, prev)
		}
		uids[d.UID], titles[d.Title] = f, f
		if !slices.Contains(generated, filepath.ToSlash(filepath.Join("dashboards", filepath.Base(f)))) {
			t.Errorf("%s: not in the grafana-dashboards configMapGenerator, so Grafana never loads it", f)
		}
		if len(d.Panels) == 0 {
			t.Errorf("%s: no panels", f)
		}
		ids := map[int]bool{}
		for _, p := range d.Panels {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d twice", f, p.ID)
			}
			ids[p.ID] = true
			if p.Datasource.UID != ds.Datasources[0].UID {
				t.Errorf("%s: panel %q uses datasource %q, want the provisioned %q", f, p.Title, p.Datasource.UID, ds.Datasources[0].UID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", f, p.Title)
			}
			for _, q := range p.Targets {
				if strings.TrimSpace(q.Expr) == "" {
					t.Errorf("%s: panel %q has an empty query", f, p.Title)
				}
			}
		}
	}
}

// TestDashboardQueriesParse hands every panel query to promtool as a
// recording rule: promtool check rules parses each one as PromQL.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := findPromtool(t)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboards\n    rules:\n")
	n := 0
	for f, d := range loadDashboards(t) {
		for _, p := range d.Panels {
			for _, q := range p.Targets {
				n++
				expr, err := json.Marshal(q.Expr) // a JSON string is a YAML string
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&rules, "      # %s: %s\n      - record: dashboard:query%d\n        expr: %s\n", filepath.Base(f), p.Title, n, expr)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "dashboards.yaml")
	write(t, path, rules.String())
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check rules on the %d dashboard queries: %v\n%s", n, err, out)
	}
}
