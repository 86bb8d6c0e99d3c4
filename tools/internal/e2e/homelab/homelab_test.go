package homelab

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the root of this repository, from this package's directory.
const repoRoot = "../../../.."

func TestExpectedKustomizationsComeFromTheKindWorkflow(t *testing.T) {
	got, err := ExpectedKustomizations(filepath.Join(repoRoot, Workflow))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"flux-system", "gateway-api", "infra-controllers", "infra-configs", "infra-backups", "apps"} {
		if !slices.Contains(got, name) {
			t.Errorf("EXPECTED_KUSTOMIZATIONS = %v, lacks %s", got, name)
		}
	}
	bad := filepath.Join(t.TempDir(), "wf.yaml")
	if err := os.WriteFile(bad, []byte("jobs:\n  kind:\n    env: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ExpectedKustomizations(bad); err == nil || !strings.Contains(err.Error(), "EXPECTED_KUSTOMIZATIONS") {
		t.Errorf("a workflow without the list: err = %v", err)
	}
}

func TestClusterVar(t *testing.T) {
	class, err := clusterVar(filepath.Join(repoRoot, Cluster, "cluster-vars.yaml"), "STORAGE_CLASS")
	if err != nil || class == "" {
		t.Errorf("STORAGE_CLASS of clusters/homelab = %q, %v", class, err)
	}
	if _, err := clusterVar(filepath.Join(repoRoot, Cluster, "cluster-vars.yaml"), "NO_SUCH_KEY"); err == nil || !strings.Contains(err.Error(), "data.NO_SUCH_KEY is not set") {
		t.Errorf("a missing key: err = %v", err)
	}
}
