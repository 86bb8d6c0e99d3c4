// Package config reads .gitops-validate.yaml, the repository's small,
// documented settings file for the validator.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// FileName is the config file looked up at the repository root.
const FileName = ".gitops-validate.yaml"

// Config is the content of .gitops-validate.yaml.
//
//	# Directories rendered as root Flux Kustomizations (one cluster each).
//	# Default: every clusters/<name>, kubernetes/flux/cluster, and the
//	# sync.path of any FluxInstance in the repository.
//	entryPoints:
//	  - clusters/homelab
//	# Directory of the Rego pack (default: policies, when it exists).
//	policies: policies
//	# Extra directories with CustomResourceDefinition YAML for schemas.
//	crds: [tools/schemas/extra]
//	# API groups whose CRDs are installed before Flux runs (for example by
//	# a bootstrap helmfile); the CRD ordering check skips them. "*" = all.
//	bootstrapCRDs: [cert-manager.io, external-secrets.io]
//	# Objects that exist only in the cluster (made by hand, by an operator,
//	# by a chart). References to them are never errors. name and namespace
//	# accept path.Match patterns; an empty namespace matches any.
//	externalObjects:
//	  - kind: Secret
//	    namespace: flux-system
//	    name: sops-age
//	# Directories of Helm charts pulled beforehand (helm pull output
//	# <name>-<version>.tgz, or unpacked <name>/ or <name>-<version>/),
//	# relative to the repository. HelmReleases of HelmRepository and
//	# OCIRepository charts are rendered from here, by chart name and pinned
//	# version; nothing is downloaded.
//	chartCache: [.cache/charts]
//	# Every HelmRelease's chart must be rendered: a chart found nowhere is
//	# an error instead of an info (for repositories that mirror or vendor
//	# their charts, so that a version bump without its chart fails).
//	requireCharts: true
//	# URLs under which Flux reads this repository, besides the bootstrap
//	# source's and the checkout's Git remotes: a GitRepository with one of
//	# them is rendered from the checkout.
//	repositoryURLs: [https://github.com/me/home-ops]
//	# Fetch the charts found neither in the repository nor in chartCache
//	# from their HelmRepository or OCIRepository (anonymously; the only
//	# network access of the validator), into fetchCache (relative to the
//	# repository; default gitops-validate/charts in the user's cache
//	# directory). The --fetch-charts flag overrides fetchCharts.
//	fetchCharts: true
//	fetchCache: .cache/fetched-charts
type Config struct {
	EntryPoints     []string         `json:"entryPoints,omitempty"`
	Policies        string           `json:"policies,omitempty"`
	CRDs            []string         `json:"crds,omitempty"`
	BootstrapCRDs   []string         `json:"bootstrapCRDs,omitempty"`
	ExternalObjects []ExternalObject `json:"externalObjects,omitempty"`
	ChartCache      []string         `json:"chartCache,omitempty"`
	RequireCharts   bool             `json:"requireCharts,omitempty"`
	RepositoryURLs  []string         `json:"repositoryURLs,omitempty"`
	FetchCharts     bool             `json:"fetchCharts,omitempty"`
	FetchCache      string           `json:"fetchCache,omitempty"`
	Flows           *Flows           `json:"flows,omitempty"`

	// File is the config file that was read; empty when the repository
	// has none. A repository that carries its own config has adopted the
	// validator, and its rules apply at full severity.
	File string `json:"-"`
}

// Flows names the file of declared network flows that the rendered
// NetworkPolicies are checked against (tools/internal/netflow), and the
// ConfigMap of the rendered cluster whose data fills its ${VARS}.
type Flows struct {
	File     string    `json:"file"`
	VarsFrom ConfigRef `json:"varsFrom,omitempty"`
}

// ConfigRef names a ConfigMap.
type ConfigRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// ExternalObject names an object made outside Git.
type ExternalObject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Reason    string `json:"reason,omitempty"`
}

// Matches reports whether the entry covers kind/namespace/name.
func (e ExternalObject) Matches(kind, namespace, name string) bool {
	if e.Kind != kind {
		return false
	}
	if e.Namespace != "" {
		if ok, _ := path.Match(e.Namespace, namespace); !ok {
			return false
		}
	}
	ok, _ := path.Match(e.Name, name)
	return ok
}

// IsExternal reports whether any entry covers kind/namespace/name.
func (c *Config) IsExternal(kind, namespace, name string) bool {
	for _, e := range c.ExternalObjects {
		if e.Matches(kind, namespace, name) {
			return true
		}
	}
	return false
}

// Load reads file (a path) or, when file is empty, FileName under root if
// it exists. A missing default file gives an empty config.
func Load(root, file string) (*Config, error) {
	explicit := file != ""
	if !explicit {
		file = filepath.Join(root, FileName)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return &Config{}, nil
		}
		return nil, fmt.Errorf("read config: %w", err)
	}
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("config %s: %w", file, err)
	}
	for i, e := range c.ExternalObjects {
		if e.Kind == "" || e.Name == "" {
			return nil, fmt.Errorf("config %s: externalObjects[%d]: kind and name are required", file, i)
		}
	}
	if c.Flows != nil && c.Flows.File == "" {
		return nil, fmt.Errorf("config %s: flows.file is required", file)
	}
	c.File = file
	return &c, nil
}
