package chartmirror

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"
)

func marshalIndex(idx *repo.IndexFile) ([]byte, error) {
	data, err := yaml.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", IndexFile, err)
	}
	return data, nil
}

// Verify checks the mirror directory without network or Git: every
// archive of mirror.yaml is there with its recorded digest, loads as the
// chart and version it is listed as, and index.yaml lists exactly those
// archives with the same digests. It returns every problem, not the first.
func Verify(dir string) (*Spec, error) {
	spec, err := LoadSpec(filepath.Join(dir, SpecFile))
	if err != nil {
		return nil, err
	}
	var errs []error
	listed := map[string]bool{}
	for _, c := range spec.Charts {
		listed[c.Archive()] = true
		file := filepath.Join(dir, c.Archive())
		data, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", c.Name, c.Version, err))
			continue
		}
		if got := Digest(data); got != c.Digest {
			errs = append(errs, fmt.Errorf("%s: digest %s, %s records %s", file, got, SpecFile, c.Digest))
			continue
		}
		ch, err := loader.LoadArchive(bytes.NewReader(data))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: not a loadable chart: %w", file, err))
			continue
		}
		if ch.Metadata.Name != c.Name || ch.Metadata.Version != c.Version {
			errs = append(errs, fmt.Errorf("%s: holds chart %s %s, %s lists %s %s", file, ch.Metadata.Name, ch.Metadata.Version, SpecFile, c.Name, c.Version))
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tgz") && !listed[e.Name()] {
			errs = append(errs, fmt.Errorf("%s: not listed in %s (no provenance)", filepath.Join(dir, e.Name()), SpecFile))
		}
	}
	errs = append(errs, verifyIndex(dir, spec))
	return spec, errors.Join(errs...)
}

func verifyIndex(dir string, spec *Spec) error {
	file := filepath.Join(dir, IndexFile)
	idx, err := repo.LoadIndexFile(file)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var errs []error
	indexed := map[string]bool{}
	for name, versions := range idx.Entries {
		for _, cv := range versions {
			key := name + "-" + cv.Version + ".tgz"
			indexed[key] = true
			c, ok := spec.find(name, cv.Version)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: %s %s is not in %s", file, name, cv.Version, SpecFile))
				continue
			}
			if "sha256:"+cv.Digest != c.Digest {
				errs = append(errs, fmt.Errorf("%s: %s %s digest %s, %s records %s", file, name, cv.Version, cv.Digest, SpecFile, c.Digest))
			}
			if !slices.Equal(cv.URLs, []string{c.Archive()}) {
				errs = append(errs, fmt.Errorf("%s: %s %s URLs %v, want [%s]", file, name, cv.Version, cv.URLs, c.Archive()))
			}
		}
	}
	for _, c := range spec.Charts {
		if !indexed[c.Archive()] {
			errs = append(errs, fmt.Errorf("%s: %s %s is missing", file, c.Name, c.Version))
		}
	}
	return errors.Join(errs...)
}

func (s *Spec) find(name, version string) (Chart, bool) {
	for _, c := range s.Charts {
		if c.Name == name && c.Version == version {
			return c, true
		}
	}
	return Chart{}, false
}
