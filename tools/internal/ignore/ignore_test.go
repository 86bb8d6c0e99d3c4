package ignore

import (
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

func TestGitRepository(t *testing.T) {
	type check struct {
		path    string
		ignored bool
		rule    string // substring of the deciding rule's description
	}
	tests := []struct {
		name   string
		files  map[string]string
		spec   string
		checks []check
	}{
		{"defaults without .sourceignore", map[string]string{"a.yaml": ""}, "", []check{
			{".github/workflows/ci.yaml", true, "default exclusion"},
			{"docs/logo.png", true, `"*.png"`},
			{"charts/x/.sops.yaml", true, `"**/.sops.yaml"`},
			{".git/config", true, "always excluded"},
			{"apps/web/deployment.yaml", false, ""},
		}},
		{".sourceignore replaces the defaults", map[string]string{".sourceignore": "# comment\n\n*.md\n/tests/\n"}, "", []check{
			{".github/workflows/ci.yaml", false, ""},
			{"docs/logo.png", false, ""},
			{".gitignore", true, "always excluded"},
			{"README.md", true, `"*.md" (.sourceignore:3)`},
			{"apps/README.md", true, `.sourceignore:3`},
			{"tests/x.yaml", true, `"/tests/" (.sourceignore:4)`},
			{"apps/tests/x.yaml", false, ""},
		}},
		{"nested .sourceignore applies below its directory", map[string]string{"apps/.sourceignore": "*.yaml\n!keep.yaml\n"}, "", []check{
			{"apps/web/a.yaml", true, `"*.yaml" (apps/.sourceignore:1)`},
			{"apps/keep.yaml", false, ""},
			{"clusters/a.yaml", false, ""},
		}},
		{"spec.ignore comes last", map[string]string{".sourceignore": "!/apps/x.yaml\n"}, "/apps/*\n", []check{
			{"apps/x.yaml", true, "spec.ignore of GitRepository flux-system/flux-system"},
			{"clusters/x.yaml", false, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := GitRepository(testfs.Tree(t, tt.files), tt.spec, "spec.ignore of GitRepository flux-system/flux-system")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.checks {
				rule, ignored := rules.Ignored(c.path, false)
				if ignored != c.ignored || !strings.Contains(rule.String(), c.rule) {
					t.Errorf("Ignored(%q) = %v by %s, want %v by a rule mentioning %q", c.path, ignored, rule, c.ignored, c.rule)
				}
			}
		})
	}
}

func TestBucket(t *testing.T) {
	dir := testfs.Tree(t, map[string]string{".sourceignore": "*.txt\n", "sub/.sourceignore": "*.yaml\n"})
	rules, err := Bucket(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{"a.txt": true, "sub/a.yaml": false, ".github/x.yaml": false} {
		if _, got := rules.Ignored(path, false); got != want {
			t.Errorf("Bucket: Ignored(%q) = %v, want %v (root .sourceignore only, no defaults)", path, got, want)
		}
	}
}

func TestNilRulesKeepEverything(t *testing.T) {
	var r *Rules
	if _, ignored := r.Ignored("a.yaml", false); ignored || r.Key() != "" {
		t.Error("nil rules ignore a file")
	}
}
