// Package homelab serves a clone of this repository to Flux on a test
// cluster, as `flux bootstrap` would install it: the clone's flux-system
// GitRepository, the Git sources that have a Go module mirror and the chart
// sources point at local servers in one extra commit, and the sync objects
// are applied with the TEST ONLY sops-age Secret.
package homelab

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/chartserver"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/cni"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/flux"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/gitserver"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/localpath"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/report"
)

const (
	// Cluster is the cluster directory the test reconciles.
	Cluster  = "clusters/homelab"
	syncFile = Cluster + "/flux-system/gotk-sync.yaml"
	// Workflow lists, in EXPECTED_KUSTOMIZATIONS, the Kustomizations that
	// must be Ready: the kind workflow and this test read the same list.
	Workflow = ".github/workflows/e2e.yaml"
)

// Env is what Start needs.
type Env struct {
	// Client talks to a cluster running Flux, for this tree alone.
	Client client.Client
	Git    *gitserver.Server
	// RepoDir is the root of this repository; WorkDir is where the clone
	// and the mirrors go.
	RepoDir, WorkDir string
	// ChartsDir is the chart mirror the chart server serves; empty means
	// charts/ of the clone.
	ChartsDir string
	// AgeKey is the TEST ONLY age identity of the flux-system/sops-age
	// Secret.
	AgeKey string
	Log    *slog.Logger
}

// Homelab is the served clone and what runs for it.
type Homelab struct {
	Repo *gitserver.Worktree
	// Commit is the clone's first commit: HEAD plus the source rewrites.
	Commit  string
	Started time.Time
	// Mirrored lists the Git sources served from a module mirror,
	// Rewritten the chart sources pointed at the chart server.
	Mirrored, Rewritten []string
	// Expected are the Kustomizations that must become Ready.
	Expected []string
	// Charts serves the chart mirror; Volumes stands in for the nodes'
	// storage provisioner. Close stops both.
	Charts  *chartserver.Server
	Volumes *localpath.Volumes
	// CNI is what the CNI bootstrap applied before the HelmRelease existed.
	CNI *cni.Bootstrap
}

// Start serves a clone of this repository's HEAD, points its flux-system
// GitRepository, the sources that have a module mirror and the chart
// sources at local servers in one extra commit, and applies the sync
// objects with the sops-age Secret, as `flux bootstrap` would.
func Start(ctx context.Context, e Env) (_ *Homelab, err error) {
	hl := &Homelab{Started: time.Now()}
	defer func() {
		if err != nil {
			hl.Close()
		}
	}()
	if hl.Expected, err = ExpectedKustomizations(filepath.Join(e.RepoDir, Workflow)); err != nil {
		return nil, err
	}
	dir := filepath.Join(e.WorkDir, "homelab-repo")
	if _, err := gitserver.Git(ctx, "", "clone", "--quiet", "--no-hardlinks", e.RepoDir, dir); err != nil {
		return nil, fmt.Errorf("clone this repository: %w", err)
	}
	syncPath := filepath.Join(dir, syncFile)
	data, err := os.ReadFile(syncPath)
	if err != nil {
		return nil, fmt.Errorf("read the sync objects: %w", err)
	}
	url, err := e.Git.CreateRepo(ctx, "homelab", "main")
	if err != nil {
		return nil, err
	}
	data, branch, err := flux.PointGitRepository(data, flux.Namespace, url)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", syncFile, err)
	}
	if err := os.WriteFile(syncPath, data, 0o644); err != nil {
		return nil, fmt.Errorf("write the sync objects: %w", err)
	}
	chartsDir := e.ChartsDir
	if chartsDir == "" {
		chartsDir = filepath.Join(dir, "charts")
	}
	if hl.Charts, err = chartserver.Start(chartsDir, e.Log); err != nil {
		return nil, fmt.Errorf("start the chart server: %w", err)
	}
	if hl.Mirrored, err = mirrorSources(ctx, e, dir); err != nil {
		return nil, err
	}
	if hl.Rewritten, err = hl.Charts.PointSources(ctx, chartsDir, dir); err != nil {
		return nil, err
	}
	hl.Repo = &gitserver.Worktree{Dir: dir, Branch: branch}
	if _, err := hl.Repo.Git(ctx, "remote", "set-url", "origin", url); err != nil {
		return nil, err
	}
	if hl.Commit, err = hl.Repo.Commit(ctx, "e2e: fetch from the local Git and chart servers"); err != nil {
		return nil, err
	}
	if err := hl.Repo.Push(ctx); err != nil {
		return nil, err
	}

	key, err := os.ReadFile(e.AgeKey)
	if err != nil {
		return nil, fmt.Errorf("read the TEST ONLY age key: %w", err)
	}
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": "sops-age", "namespace": flux.Namespace},
		"stringData": map[string]any{"age.agekey": string(key)},
	}}
	if err := kube.Apply(ctx, e.Client, []*unstructured.Unstructured{kube.Namespace(flux.Namespace), secret}); err != nil {
		return nil, err
	}
	// The nodes' storage provisioner exists before Flux (docs/bootstrap.md).
	class, err := clusterVar(filepath.Join(e.RepoDir, Cluster, "cluster-vars.yaml"), "STORAGE_CLASS")
	if err != nil {
		return nil, err
	}
	if hl.Volumes, err = localpath.Start(ctx, e.Client, class, e.Log); err != nil {
		return nil, err
	}
	// So does the CNI: scripts/bootstrap-cni.sh's render of the tree's
	// HelmRelease, applied before the sync objects bring the HelmRelease.
	if hl.CNI, err = cni.Apply(ctx, e.Client, dir); err != nil {
		return nil, err
	}
	if err := kube.ApplyFile(ctx, e.Client, syncPath); err != nil {
		return nil, fmt.Errorf("apply the sync objects: %w", err)
	}
	e.Log.Info("clusters/homelab syncing from the local Git server", "commit", gitserver.Short(hl.Commit), "mirrored", hl.Mirrored, "charts", hl.Rewritten)
	return hl, nil
}

// Close stops the volume stand-in and the chart server.
func (hl *Homelab) Close() {
	if hl.Volumes != nil {
		hl.Volumes.Stop()
	}
	if hl.Charts != nil {
		hl.Charts.Close()
	}
}

// WaitSynced waits for flux-system to apply the clone's commit and reports
// it, with the rewritten sources, to rep. It returns whether it did.
func (hl *Homelab) WaitSynced(ctx context.Context, c client.Client, rep *report.Report) bool {
	key := client.ObjectKey{Namespace: flux.Namespace, Name: "flux-system"}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	fs, err := flux.WaitKustomization(wctx, c, key, flux.AppliedRevision(hl.Commit))
	took := time.Since(hl.Started)
	if err == nil {
		took = flux.Ready(fs.Status.Conditions).LastTransitionTime.Sub(hl.Started)
	}
	rep.Check("homelab: flux-system Ready", "clusters/homelab applied at "+gitserver.Short(hl.Commit)+" (cluster-secrets decrypted with the TEST ONLY age key)", took, err)
	if err != nil {
		return false
	}
	if len(hl.Mirrored) > 0 {
		rep.Note("Git sources served from a local mirror of the Go module of the same tag: %s", strings.Join(hl.Mirrored, ", "))
	}
	for _, r := range hl.Rewritten {
		rep.Note("chart source rewritten to the chart server (charts/ archives): %s", r)
	}
	return true
}

// clusterVar reads one data key of the cluster-vars ConfigMap file.
func clusterVar(file, key string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := sigsyaml.Unmarshal(data, &cm); err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	v := cm.Data[key]
	if v == "" {
		return "", fmt.Errorf("%s: data.%s is not set", file, key)
	}
	return v, nil
}

// ExpectedKustomizations reads EXPECTED_KUSTOMIZATIONS from the kind
// workflow's job environment.
func ExpectedKustomizations(workflow string) ([]string, error) {
	data, err := os.ReadFile(workflow)
	if err != nil {
		return nil, fmt.Errorf("read the expected Kustomizations: %w", err)
	}
	var wf struct {
		Jobs map[string]struct {
			Env map[string]string `json:"env"`
		} `json:"jobs"`
	}
	if err := sigsyaml.Unmarshal(data, &wf); err != nil {
		return nil, fmt.Errorf("%s: %w", workflow, err)
	}
	for _, job := range slices.Sorted(maps.Keys(wf.Jobs)) {
		if list := strings.Fields(wf.Jobs[job].Env["EXPECTED_KUSTOMIZATIONS"]); len(list) > 0 {
			return list, nil
		}
	}
	return nil, fmt.Errorf("%s: no job sets EXPECTED_KUSTOMIZATIONS", workflow)
}
