package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/chartserver"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/flux"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/gitserver"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/localpath"
)

const (
	homelabCluster  = "clusters/homelab"
	homelabSyncFile = "clusters/homelab/flux-system/gotk-sync.yaml"
	fluxNS          = "flux-system"
	// e2eWorkflow lists, in EXPECTED_KUSTOMIZATIONS, the Kustomizations
	// that must be Ready: the kind workflow and this test read the same list.
	e2eWorkflow = ".github/workflows/e2e.yaml"
)

// moduleMirrors maps Git sources of clusters/homelab that are also
// published as Go modules to their module path: the module proxy serves the
// tree of the same tag, so a local Git mirror of it holds the upstream
// files, not a stand-in.
var moduleMirrors = map[string]string{
	"https://github.com/kubernetes-sigs/gateway-api": "sigs.k8s.io/gateway-api",
}

type homelab struct {
	stack *stack
	repo  *gitRepo
	// commit is the clone's first commit: HEAD plus the source rewrites.
	commit  string
	started time.Time
	// mirrored lists the Git sources served from a module mirror,
	// rewritten the chart sources pointed at the chart server.
	mirrored, rewritten []string
	expected            []string
	sim                 *simulator
	// cni is what the CNI bootstrap applied before the HelmRelease existed.
	cni     *cniBootstrap
	volumes *volumes
}

// volumes runs the stand-in for the nodes' local-path provisioner.
type volumes struct {
	class  string
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	claims []string
}

// startVolumes installs the StorageClass the tree's cluster-vars names
// (STORAGE_CLASS) and provisions its claims until stop.
func (e *env) startVolumes(ctx context.Context, s *stack) (*volumes, error) {
	class, err := clusterVar(filepath.Join(e.o.repoDir, "clusters/homelab/cluster-vars.yaml"), "STORAGE_CLASS")
	if err != nil {
		return nil, err
	}
	if err := localpath.Install(ctx, s.c, class); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	v := &volumes{class: class, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(v.done)
		if err := localpath.Run(ctx, s.c, class, e.log, v.add); err != nil {
			e.log.Warn("local-path stand-in stopped", "err", err)
		}
	}()
	return v, nil
}

func (v *volumes) add(claim string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.claims = append(v.claims, claim)
}

func (v *volumes) provisioned() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.claims)
}

func (v *volumes) stop() {
	v.cancel()
	<-v.done
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

// startHomelab serves a clone of this repository's HEAD, points its
// flux-system GitRepository, the sources that have a module mirror and the
// chart sources at local servers in one extra commit, and applies the sync
// objects with the sops-age Secret, as `flux bootstrap` would.
func (e *env) startHomelab(ctx context.Context, s *stack) (*homelab, error) {
	hl := &homelab{stack: s, started: time.Now()}
	var err error
	if hl.expected, err = expectedKustomizations(filepath.Join(e.o.repoDir, e2eWorkflow)); err != nil {
		return nil, err
	}
	dir := filepath.Join(e.work, "homelab-repo")
	if _, err := gitserver.Git(ctx, "", "clone", "--quiet", "--no-hardlinks", e.o.repoDir, dir); err != nil {
		return nil, fmt.Errorf("clone this repository: %w", err)
	}
	syncPath := filepath.Join(dir, homelabSyncFile)
	data, err := os.ReadFile(syncPath)
	if err != nil {
		return nil, fmt.Errorf("read the sync objects: %w", err)
	}
	url, err := e.git.CreateRepo(ctx, "homelab", "main")
	if err != nil {
		return nil, err
	}
	data, branch, err := flux.PointGitRepository(data, fluxNS, url)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", homelabSyncFile, err)
	}
	if err := os.WriteFile(syncPath, data, 0o644); err != nil {
		return nil, fmt.Errorf("write the sync objects: %w", err)
	}
	if e.o.chartsDir == "" {
		e.o.chartsDir = filepath.Join(dir, "charts")
	}
	if e.charts, err = chartserver.Start(e.o.chartsDir, e.log); err != nil {
		return nil, fmt.Errorf("start the chart server: %w", err)
	}
	if hl.mirrored, err = e.mirrorSources(ctx, dir); err != nil {
		return nil, err
	}
	if hl.rewritten, err = e.pointChartSources(ctx, dir); err != nil {
		return nil, err
	}
	hl.repo = &gitRepo{dir: dir, branch: branch}
	if _, err := hl.repo.git(ctx, "remote", "set-url", "origin", url); err != nil {
		return nil, err
	}
	if hl.commit, err = hl.repo.commit(ctx, "e2e: fetch from the local Git and chart servers"); err != nil {
		return nil, err
	}
	if err := hl.repo.push(ctx); err != nil {
		return nil, err
	}

	key, err := os.ReadFile(e.o.ageKey)
	if err != nil {
		return nil, fmt.Errorf("read the TEST ONLY age key: %w", err)
	}
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": "sops-age", "namespace": fluxNS},
		"stringData": map[string]any{"age.agekey": string(key)},
	}}
	if err := kube.Apply(ctx, s.c, []*unstructured.Unstructured{kube.Namespace(fluxNS), secret}); err != nil {
		return nil, err
	}
	// The nodes' storage provisioner exists before Flux (docs/bootstrap.md).
	if hl.volumes, err = e.startVolumes(ctx, s); err != nil {
		return nil, err
	}
	// So does the CNI: scripts/bootstrap-cni.sh's render of the tree's
	// HelmRelease, applied before the sync objects bring the HelmRelease.
	if hl.cni, err = e.bootstrapCNI(ctx, s.c, dir); err != nil {
		return nil, err
	}
	if err := kube.ApplyFile(ctx, s.c, syncPath); err != nil {
		return nil, fmt.Errorf("apply the sync objects: %w", err)
	}
	if hl.sim, err = e.startSimulator(ctx, s); err != nil {
		return nil, err
	}
	e.log.Info("clusters/homelab syncing from the local Git server", "commit", short(hl.commit), "mirrored", hl.mirrored, "charts", hl.rewritten)
	return hl, nil
}

// expectedKustomizations reads EXPECTED_KUSTOMIZATIONS from the kind
// workflow's job environment.
func expectedKustomizations(workflow string) ([]string, error) {
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

// mirrorSources points every GitRepository of clusters/homelab whose URL
// has a module mirror at a local repository made from that module, tagged
// like upstream. It returns the names of the mirrored GitRepositories.
func (e *env) mirrorSources(ctx context.Context, dir string) ([]string, error) {
	var mirrored []string
	err := filepath.WalkDir(filepath.Join(dir, homelabCluster), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		nodes, err := kio.FromBytes(data)
		if err != nil {
			return nil // not a manifest the mirror cares about
		}
		for _, n := range nodes {
			if n.GetKind() != "GitRepository" {
				continue
			}
			repoURL, tag := fieldString(n, "spec", "url"), fieldString(n, "spec", "ref", "tag")
			module, ok := moduleMirrors[strings.TrimSuffix(repoURL, ".git")]
			if !ok || tag == "" {
				continue
			}
			url, err := e.moduleMirror(ctx, n.GetName(), module, tag)
			if err != nil {
				return fmt.Errorf("mirror %s: %w", n.GetName(), err)
			}
			out, _, err := flux.PointGitRepository(data, n.GetName(), url)
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, out, 0o644); err != nil {
				return err
			}
			data = out
			mirrored = append(mirrored, fmt.Sprintf("%s (%s@%s)", n.GetName(), module, tag))
		}
		return nil
	})
	return mirrored, err
}

// moduleMirror makes a Git repository holding module@tag as the module
// proxy serves it, with the tag, and returns its URL.
func (e *env) moduleMirror(ctx context.Context, name, module, tag string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+tag).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", module, tag, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no directory in %s", module, tag, out)
	}
	url, err := e.git.CreateRepo(ctx, name, "main")
	if err != nil {
		return "", err
	}
	work := filepath.Join(e.work, "mirror-"+name)
	if err := os.CopyFS(work, os.DirFS(m.Dir)); err != nil {
		return "", fmt.Errorf("copy %s: %w", m.Dir, err)
	}
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		{"add", "-A"},
		{"commit", "--quiet", "-m", module + " " + tag + " as served by the Go module proxy"},
		{"tag", tag},
		{"push", "--quiet", url, "HEAD:refs/heads/main", "refs/tags/" + tag},
	} {
		if _, err := gitserver.Git(ctx, work, args...); err != nil {
			return "", err
		}
	}
	return url, nil
}

// checkHomelab waits for flux-system to apply the clone's commit, then for
// the whole tree to be Ready, prints `flux get` for Kustomizations and
// HelmReleases, and runs the proofs.
func (e *env) checkHomelab(ctx context.Context, hl *homelab) error {
	c := hl.stack.c
	key := client.ObjectKey{Namespace: fluxNS, Name: "flux-system"}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	fs, err := flux.WaitKustomization(wctx, c, key, flux.AppliedRevision(hl.commit))
	took := time.Since(hl.started)
	if err == nil {
		took = flux.Ready(fs.Status.Conditions).LastTransitionTime.Sub(hl.started)
	}
	e.rep.Check("homelab: flux-system Ready", "clusters/homelab applied at "+short(hl.commit)+" (cluster-secrets decrypted with the TEST ONLY age key)", took, err)
	if err != nil {
		return nil
	}
	if len(hl.mirrored) > 0 {
		e.rep.Note("Git sources served from a local mirror of the Go module of the same tag: %s", strings.Join(hl.mirrored, ", "))
	}
	for _, r := range hl.rewritten {
		e.rep.Note("chart source rewritten to the chart server (charts/ archives): %s", r)
	}
	if err := e.waitHomelabReady(ctx, hl); err != nil {
		return err
	}
	e.checkCNIAdopted(ctx, c, hl.cni)
	if err := e.printTables(ctx, hl.stack); err != nil {
		return err
	}
	if e.o.proofs {
		return e.homelabProofs(ctx, hl)
	}
	return nil
}

// printTables prints `flux get kustomizations` and `flux get helmreleases
// -A`: the flux CLI's output when the cache has the CLI, else the same
// columns read from the API.
func (e *env) printTables(ctx context.Context, s *stack) error {
	cli := true
	if _, err := os.Stat(filepath.Join(e.binDir, "flux")); err != nil {
		cli = false
	}
	for _, args := range [][]string{{"get", "kustomizations"}, {"get", "helmreleases", "-A"}} {
		var out string
		var err error
		if cli {
			out, err = e.flux(ctx, s, args...)
		} else {
			out, err = fluxTable(ctx, s.c, args[1])
		}
		fmt.Printf("\n[%s] $ flux %s\n%s\n", s.name, strings.Join(args, " "), out)
		if err != nil {
			return err
		}
	}
	return nil
}

// fluxTable writes the columns of `flux get kustomizations` (flux-system
// namespace) or `flux get helmreleases -A` from the API objects.
func fluxTable(ctx context.Context, c client.Client, what string) (string, error) {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	row := func(cols ...string) { fmt.Fprintln(w, strings.Join(cols, "\t")) }
	switch what {
	case "kustomizations":
		var list kustomizev1.KustomizationList
		if err := c.List(ctx, &list, client.InNamespace(fluxNS)); err != nil {
			return "", fmt.Errorf("list Kustomizations: %w", err)
		}
		row("NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE")
		for _, ks := range list.Items {
			r := flux.Ready(ks.Status.Conditions)
			row(ks.Name, ks.Status.LastAppliedRevision, strconv.FormatBool(ks.Spec.Suspend), string(r.Status), oneLine(r.Message))
		}
	case "helmreleases":
		var list helmv2.HelmReleaseList
		if err := c.List(ctx, &list); err != nil {
			return "", fmt.Errorf("list HelmReleases: %w", err)
		}
		row("NAMESPACE", "NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE")
		for _, hr := range list.Items {
			r := flux.Ready(hr.Status.Conditions)
			row(hr.Namespace, hr.Name, hr.Status.LastAttemptedRevision, strconv.FormatBool(hr.Spec.Suspend), string(r.Status), oneLine(r.Message))
		}
	default:
		return "", fmt.Errorf("no table for %q", what)
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// fieldString returns the string at path in n, or "".
func fieldString(n *yaml.RNode, path ...string) string {
	v, err := n.Pipe(yaml.Lookup(path...))
	if err != nil || v == nil {
		return ""
	}
	return yaml.GetValue(v)
}
