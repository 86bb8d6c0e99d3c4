package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

// repositoryCopy copies the parts of this repository the validator reads
// into a temporary directory, with edits (path -> old -> new) applied.
func repositoryCopy(t *testing.T, edits map[string][2]string) string {
	t.Helper()
	root := filepath.Join("..", "..", "..")
	dir := t.TempDir()
	for _, d := range []string{"clusters", "infrastructure", "apps", "charts", "policies"} {
		copyTree(t, filepath.Join(root, d), filepath.Join(dir, d))
	}
	for _, f := range []string{".gitops-validate.yaml", ".sops.yaml"} {
		if err := copyFile(filepath.Join(root, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	for file, e := range edits {
		p := filepath.Join(dir, file)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), e[0]) {
			t.Fatalf("%s does not contain %q: the test's edit is stale", file, e[0])
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(data), e[0], e[1], 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Every chart of the tree renders from the mirror, so a reference to a
// Gateway or Secret that nothing makes is an error even in a namespace
// where a chart is installed.
func TestRepositoryChartsRenderAndReferencesAreChecked(t *testing.T) {
	if testing.Short() {
		t.Skip("renders the whole repository")
	}
	rep, err := Run(context.Background(), Options{Root: repositoryCopy(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Rule == finding.HelmNotRendered || f.Severity == finding.Error {
			t.Errorf("%s: %s %s %s", f.Position(), f.Severity, f.Rule, f.Message)
		}
	}
	if len(rep.Clusters) != 1 || len(rep.Clusters[0].Charts) != 5 {
		n := 0
		if len(rep.Clusters) == 1 {
			n = len(rep.Clusters[0].Charts)
		}
		t.Fatalf("want the 5 charts of clusters/homelab rendered (Cilium, Traefik, cert-manager, the RabbitMQ and MongoDB operators), got %d clusters, %d charts", len(rep.Clusters), n)
	}

	rep, err = Run(context.Background(), Options{Root: repositoryCopy(t, map[string][2]string{
		"apps/base/fitness/httproute.yaml":                          {"name: homelab", "name: homelb"},
		"infrastructure/controllers/rabbitmq-operator/release.yaml": {"          configMap:\n            name: internal-ca", "          secret:\n            secretName: internal-ca-typo"},
	})})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"Gateway/traefik/homelb": false, "Secret/rabbitmq-system/internal-ca-typo": false}
	for _, f := range rep.Findings {
		for target := range want {
			if f.Rule == finding.RefMissing && f.Severity == finding.Error && strings.Contains(f.Message, target) {
				want[target] = true
			}
		}
	}
	for target, found := range want {
		if !found {
			logFindings(t, rep)
			t.Errorf("no reference-missing error for %s", target)
		}
	}
}
