package policies

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// pack holds the Rego modules of the pack (tests included: Extract leaves
// them out) so that the validator carries it into repositories that have no
// policies of their own.
//
//go:embed */*.rego
var pack embed.FS

// Extract writes the pack's policy modules, without their Rego tests, under
// dir, keeping the pack's layout.
func Extract(dir string) error {
	return fs.WalkDir(pack, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		data, err := pack.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return fmt.Errorf("extract the built-in policy pack: %w", err)
		}
		return nil
	})
}
