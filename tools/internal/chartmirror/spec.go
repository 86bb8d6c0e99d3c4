// Package chartmirror builds and verifies the repository's Helm chart
// mirror: the exact chart archives the tree installs, packaged from their
// upstream Git sources at a pinned tag and commit, so that validation and
// the end-to-end test render and serve them without network.
//
// charts/mirror.yaml is the source of truth: for every chart its upstream
// repository, tag, commit, directory, the release steps upstream applies
// before `helm package`, and the sha256 of the archive this package builds.
// Building is reproducible: the same commit gives the same bytes, so the
// digest in mirror.yaml is checked both when the archives are rebuilt from
// upstream and when they are read.
package chartmirror

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// SpecFile is the provenance file inside the mirror directory.
const SpecFile = "mirror.yaml"

// IndexFile is the Helm repository index written beside the archives.
const IndexFile = "index.yaml"

// Spec is the content of charts/mirror.yaml.
type Spec struct {
	Charts []Chart `json:"charts"`
}

// Chart is one mirrored chart and how it is reproduced.
type Chart struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source
	// Digest is the sha256 of the archive, "sha256:<hex>".
	Digest string `json:"digest"`
	// Repositories are the chart repository URLs (HelmRepository
	// spec.url) this archive stands in for.
	Repositories []string `json:"repositories,omitempty"`
	// Dependencies are packaged the same way and embedded in charts/.
	Dependencies []Dependency `json:"dependencies,omitempty"`
}

// Dependency is a subchart packaged from source and embedded.
type Dependency struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source
}

// Source locates a chart directory in an upstream Git repository and the
// release steps applied to it.
type Source struct {
	// Upstream is the Git repository URL.
	Upstream string `json:"upstream"`
	Tag      string `json:"tag"`
	Commit   string `json:"commit"`
	// Path is the chart directory inside the repository.
	Path    string   `json:"path"`
	Release *Release `json:"release,omitempty"`
	// Module, when set, is the Go module at this repository's root: its
	// zip at Tag from the Go module proxy holds the same tree, and is read
	// when no local Git copy is found (for an upstream too large to clone,
	// like cilium/cilium), checked against Commit.
	Module string `json:"module,omitempty"`
}

// Release describes what upstream's release tooling does to the chart
// directory before packaging it, for charts that are not packaged as they
// are in Git (cert-manager templates its Chart.yaml and README).
type Release struct {
	// Files are generated first: each from another file of the chart
	// directory with literal replacements.
	Files []GeneratedFile `json:"files,omitempty"`
	// Include, when set, keeps only the generated files and those matching
	// one of these path.Match patterns (relative to the chart directory),
	// as a release Makefile that copies named files does.
	Include []string `json:"include,omitempty"`
	// Set assigns top-level or dotted annotation fields of Chart.yaml
	// (version, appVersion, annotations.<key>).
	Set map[string]string `json:"set,omitempty"`
	// SetFromFile assigns a Chart.yaml field the content of a file of the
	// chart directory.
	SetFromFile map[string]string `json:"setFromFile,omitempty"`
}

// GeneratedFile is a release-time file made from a template in the chart
// directory.
type GeneratedFile struct {
	Path    string            `json:"path"`
	From    string            `json:"from"`
	Replace map[string]string `json:"replace,omitempty"`
}

var (
	commitRe = regexp.MustCompile(`^[0-9a-f]{40}$`)
	digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// Archive is the file name of a chart's archive in the mirror.
func (c Chart) Archive() string { return c.Name + "-" + c.Version + ".tgz" }

// LoadSpec reads and checks a mirror.yaml.
func LoadSpec(file string) (*Spec, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read chart mirror spec: %w", err)
	}
	var s Spec
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &s, nil
}

func (s *Spec) check() error {
	var errs []error
	seen := map[string]bool{}
	for i, c := range s.Charts {
		at := fmt.Sprintf("charts[%d]", i)
		if c.Name != "" {
			at = fmt.Sprintf("charts[%d] (%s)", i, c.Name)
		}
		if seen[c.Archive()] {
			errs = append(errs, fmt.Errorf("%s: %s %s is listed twice", at, c.Name, c.Version))
		}
		seen[c.Archive()] = true
		if c.Digest != "" && !digestRe.MatchString(c.Digest) {
			errs = append(errs, fmt.Errorf("%s.digest: %q is not sha256:<64 hex digits>", at, c.Digest))
		}
		errs = append(errs, c.Source.check(at, c.Name, c.Version))
		for j, d := range c.Dependencies {
			errs = append(errs, d.Source.check(fmt.Sprintf("%s.dependencies[%d]", at, j), d.Name, d.Version))
		}
	}
	return errors.Join(errs...)
}

func (s Source) check(at, name, version string) error {
	var errs []error
	missing := func(field, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s.%s is required", at, field))
		}
	}
	missing("name", name)
	missing("version", version)
	missing("upstream", s.Upstream)
	missing("tag", s.Tag)
	missing("path", s.Path)
	if !commitRe.MatchString(s.Commit) {
		errs = append(errs, fmt.Errorf("%s.commit: %q is not a full 40-hex-digit commit id", at, s.Commit))
	}
	if p := path.Clean(s.Path); strings.HasPrefix(p, "../") || p == ".." || path.IsAbs(p) {
		errs = append(errs, fmt.Errorf("%s.path: %q leaves the repository", at, s.Path))
	}
	return errors.Join(errs...)
}
