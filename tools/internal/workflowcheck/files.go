package workflowcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Files lists what a repository holds under .github: the workflow files
// (.github/workflows/*.yml|yaml) and the metadata files of composite or
// Docker actions kept in the repository (.github/actions/**/action.yml|yaml).
// Paths are absolute and sorted.
func Files(root string) (workflows, actions []string, err error) {
	wfDir := filepath.Join(root, ".github", "workflows")
	entries, err := os.ReadDir(wfDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("read workflows directory: %w", err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() && isYAML(e.Name()) {
			workflows = append(workflows, filepath.Join(wfDir, e.Name()))
		}
	}

	actDir := filepath.Join(root, ".github", "actions")
	err = filepath.WalkDir(actDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == actDir {
				return fs.SkipDir
			}
			return err
		}
		if d.Type().IsRegular() && (d.Name() == "action.yml" || d.Name() == "action.yaml") {
			actions = append(actions, path)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("walk actions directory: %w", err)
	}

	slices.Sort(workflows)
	slices.Sort(actions)
	return workflows, actions, nil
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml")
}

// relPath returns path relative to root when it lies inside root, and path
// unchanged otherwise.
func relPath(root, path string) string {
	rel, err := filepath.Rel(root, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return path
	}
	return filepath.ToSlash(rel)
}
