package output

import (
	"go/build"
	"strings"
	"testing"
)

// TestNoOrchestratorImport keeps the report layer independent of the
// orchestrator: output prints what validate produces, it does not need to
// know how it was produced (and validate must stay free to import output's
// dependencies without a cycle).
func TestNoOrchestratorImport(t *testing.T) {
	const module = "github.com/homelab-gitops/homelab/"
	const forbidden = module + "tools/internal/validate"
	seen := map[string]bool{}
	var walk func(path, dir string, chain []string)
	walk = func(path, dir string, chain []string) {
		if seen[path] {
			return
		}
		seen[path] = true
		pkg, err := build.Default.Import(path, dir, 0)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		for _, imp := range pkg.Imports {
			if imp == forbidden {
				t.Errorf("output imports %s through %s", forbidden, strings.Join(append(chain, path), " -> "))
			}
			if strings.HasPrefix(imp, module) {
				walk(imp, pkg.Dir, append(chain, path))
			}
		}
	}
	walk(module+"tools/internal/output", ".", nil)
}
