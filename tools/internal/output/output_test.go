package output

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/diff"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sample() *Report {
	fs := []finding.Finding{
		finding.New(finding.RefMissing, "apps/web/deployment.yaml", 25, 17,
			finding.Object{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "web"},
			"Deployment/web/web: secret reference Secret/web/web-tokens does not exist in the manifests of cluster home"),
		finding.New(finding.HelmVersion, "infrastructure/controllers/cert-manager.yaml", 21, 7,
			finding.Object{APIVersion: "helm.toolkit.fluxcd.io/v2", Kind: "HelmRelease", Namespace: "cert-manager", Name: "cert-manager"},
			"HelmRelease cert-manager/cert-manager: chart cert-manager version 1.x is not pinned, with a comma, and a colon: here"),
		{Rule: "security-image-pinned", Class: finding.ClassPolicy, Severity: finding.Error, File: "apps/web/deployment.yaml", Line: 1, Column: 1,
			Object: finding.Object{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "web"}, Message: "container web uses a :latest image\nsecond line", Hint: "Pin the image."},
		finding.New(finding.HelmNotRendered, "infrastructure/controllers/cert-manager.yaml", 22, 3, finding.Object{Kind: "HelmRelease", Namespace: "cert-manager", Name: "cert-manager"}, "chart not rendered"),
	}
	return &Report{
		Findings: fs,
		Stats:    finding.Stats{Clusters: 1, Kustomizations: 4, Objects: 21, Files: 15, Counts: finding.Count(fs), DurationMS: 42},
		Diff: &diff.Report{Base: "main", Kustomizations: []diff.KustomizationDiff{{
			Cluster: "home", Kustomization: "flux-system/apps",
			Objects: []diff.ObjectDiff{{Object: "Deployment/web/web", Change: diff.Changed, Diff: "--- base/Deployment/web/web\n+++ head/Deployment/web/web\n@@ -1 +1 @@\n-replicas: 1\n+replicas: 2\n"}},
		}}},
		Version: "test",
	}
}

func TestGolden(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			out, err := Get(format)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := out.Output(&buf, sample()); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", format+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s output differs from %s:\n%s", format, golden, buf.String())
			}
			if format == JSON || format == SARIF {
				var v map[string]any
				if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
					t.Errorf("invalid JSON: %v", err)
				}
			}
		})
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := Get("xml"); err == nil || !strings.Contains(err.Error(), "text, json, sarif, github, markdown") {
		t.Fatalf("Get(xml) = %v, want an error listing the formats", err)
	}
}

func TestMarkdownFitsInAComment(t *testing.T) {
	r := sample()
	big := strings.Repeat("+spec:\n+  key: "+strings.Repeat("x", 80)+"\n", 400)
	var objs []diff.ObjectDiff
	for range 50 {
		objs = append(objs, diff.ObjectDiff{Object: "ConfigMap/a/b", Change: diff.Added, Diff: big})
	}
	r.Diff.Kustomizations = nil
	for range 20 {
		r.Diff.Kustomizations = append(r.Diff.Kustomizations, diff.KustomizationDiff{Cluster: "home", Kustomization: "flux-system/apps", Objects: objs})
	}
	for range 2000 {
		r.Findings = append(r.Findings, r.Findings[0])
	}
	var buf bytes.Buffer
	if err := (&MarkdownOutput{Limit: MarkdownLimit}).Output(&buf, r); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	if len(s) > MarkdownLimit {
		t.Fatalf("markdown is %d characters, limit %d", len(s), MarkdownLimit)
	}
	for _, want := range []string{"### gitops-validate", "more finding(s) not shown", "Diff truncated", "more line(s) of this diff not shown"} {
		if !strings.Contains(s, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Index(s, "### gitops-validate") != 0 {
		t.Error("summary is not first")
	}
}

// TestSARIFHelp: a rule's help is there when the rule has a hint and left
// out otherwise (SARIF requires text in a multiformatMessageString).
func TestSARIFHelp(t *testing.T) {
	var buf bytes.Buffer
	if err := (&SARIFOutput{}).Output(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID   string          `json:"id"`
						Help json.RawMessage `json:"help"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	helps := map[string]string{}
	for _, r := range log.Runs[0].Tool.Driver.Rules {
		helps[r.ID] = string(r.Help)
	}
	if h := helps["security-image-pinned"]; h != "" {
		t.Errorf("policy rule without a hint has help %s", h)
	}
	if h := helps[finding.RefMissing]; !strings.Contains(h, `"text":`) || strings.Contains(h, `"text": ""`) {
		t.Errorf("%s: help %s, want the rule's hint", finding.RefMissing, h)
	}
}
