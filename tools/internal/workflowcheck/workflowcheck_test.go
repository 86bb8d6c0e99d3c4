package workflowcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// brief renders a finding without its message, for comparisons.
func brief(f Finding) string {
	return fmt.Sprintf("%s:%d:%d %s", f.File, f.Line, f.Column, f.Rule)
}

func briefs(fs []Finding) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, brief(f))
	}
	return out
}

func TestCheckPins(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{
			file: "workflow.yaml",
			want: []string{
				"workflow.yaml:10:15 pin-sha",     // @v4
				"workflow.yaml:11:15 pin-sha",     // @main
				"workflow.yaml:12:15 pin-sha",     // short SHA
				"workflow.yaml:13:15 pin-comment", // SHA without a comment
				"workflow.yaml:14:15 pin-comment", // SHA with a comment that names no version
				"workflow.yaml:15:15 pin-sha",     // uppercase SHA
				"workflow.yaml:18:15 pin-digest",  // docker:// by tag
				"workflow.yaml:20:15 pin-sha",     // no ref at all
				"workflow.yaml:25:11 pin-sha",     // reusable workflow by tag
			},
		},
		{
			file: "action.yaml",
			want: []string{"action.yaml:8:13 pin-sha"},
		},
		{
			file: "docker-action.yaml",
			want: []string{"docker-action.yaml:6:10 pin-digest"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", "pins", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := CheckPins(tt.file, src)
			if err != nil {
				t.Fatalf("CheckPins: %v", err)
			}
			if diff := cmp.Diff(tt.want, briefs(got)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			for _, f := range got {
				if f.Message == "" {
					t.Errorf("%s: empty message", brief(f))
				}
			}
		})
	}
}

func TestCheckPinsRejectsInvalidYAML(t *testing.T) {
	if _, err := CheckPins("bad.yaml", []byte("jobs: [unclosed\n")); err == nil {
		t.Fatal("CheckPins accepted invalid YAML")
	}
}

func TestCheckFixtureRepositories(t *testing.T) {
	tests := []struct {
		name          string
		opts          LintOptions
		wantWorkflows []string
		wantActions   []string
		want          []string
	}{
		{
			name:          "clean",
			opts:          DefaultLintOptions(),
			wantWorkflows: []string{".github/workflows/ci.yaml"},
			wantActions:   []string{".github/actions/setup/action.yml"},
		},
		{
			name:          "broken",
			wantWorkflows: []string{".github/workflows/broken.yaml"},
			wantActions:   []string{".github/actions/publish/action.yaml"},
			want: []string{
				".github/actions/publish/action.yaml:6:13 pin-comment",
				".github/workflows/broken.yaml:6:3 permissions",
				".github/workflows/broken.yaml:8:3 job-needs",
				".github/workflows/broken.yaml:12:15 pin-sha",
				".github/workflows/broken.yaml:14:24 expression",
				".github/workflows/broken.yaml:16:24 expression",
			},
		},
		{
			name:          "invalid-action",
			wantWorkflows: []string{".github/workflows/ci.yaml"},
			wantActions:   []string{".github/actions/setup/action.yml"},
			want: []string{
				".github/actions/setup/action.yml:5:1 syntax-check",
				// actionlint reads the local action's metadata too.
				".github/workflows/ci.yaml:19:15 action",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Check(filepath.Join("testdata", "repos", tt.name), tt.opts)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if diff := cmp.Diff(tt.wantWorkflows, r.Workflows); diff != "" {
				t.Errorf("workflows (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantActions, r.Actions); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, briefs(r.Findings), cmp.Transformer("nil", func(s []string) []string {
				if s == nil {
					return []string{}
				}
				return s
			})); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
				for _, f := range r.Findings {
					t.Log(f)
				}
			}
		})
	}
}

func TestFilesWithoutGithubDirectory(t *testing.T) {
	workflows, actions, err := Files(t.TempDir())
	if err != nil {
		t.Fatalf("Files: %v", err)
	}
	if len(workflows) != 0 || len(actions) != 0 {
		t.Errorf("Files = %v, %v; want none", workflows, actions)
	}
}

// TestRepositoryWorkflows is the check `make test` relies on: every
// workflow of this repository passes actionlint and pins its actions.
func TestRepositoryWorkflows(t *testing.T) {
	root := repositoryRoot(t)
	opts := DefaultLintOptions()
	if opts.Shellcheck == "" {
		t.Log("shellcheck not found on PATH: run: scripts are not checked by shellcheck")
	}
	r, err := Check(root, opts)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	for _, want := range []string{
		".github/workflows/validate.yaml",
		".github/workflows/images.yaml",
		".github/workflows/e2e.yaml",
	} {
		found := false
		for _, w := range r.Workflows {
			found = found || w == want
		}
		if !found {
			t.Errorf("%s is missing (found %v)", want, r.Workflows)
		}
	}
	for _, f := range r.Findings {
		t.Error(f)
	}
}

// repositoryRoot walks up from the package directory to the directory that
// holds go.mod.
func repositoryRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := os.Stat(filepath.Join(dir, "go.mod"))
		if err == nil {
			return dir
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}
