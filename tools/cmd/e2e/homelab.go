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
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/flux"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/gitserver"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/proc"
)

const (
	homelabCluster  = "clusters/homelab"
	homelabSyncFile = "clusters/homelab/flux-system/gotk-sync.yaml"
	fluxNS          = "flux-system"
)

// The Kustomizations issue 9 asks `flux get kustomizations` to list.
var homelabKustomizations = []string{"flux-system", "infra-controllers", "infra-configs", "apps"}

// moduleMirrors maps Git sources of clusters/homelab that are also
// published as Go modules to their module path: the module proxy serves the
// tree of the same tag, so a local Git mirror of it holds the upstream
// files, not a stand-in.
var moduleMirrors = map[string]string{
	"https://github.com/kubernetes-sigs/gateway-api": "sigs.k8s.io/gateway-api",
}

type homelab struct {
	stack   *stack
	commit  string
	started time.Time
	// mirrored lists the Git sources served from a module mirror.
	mirrored []string
}

// startHomelab serves a clone of this repository's HEAD, points its
// flux-system GitRepository (and the sources that have a module mirror) at
// the local Git server in one extra commit, and applies the sync objects
// with the sops-age Secret, as `flux bootstrap` would.
func (e *env) startHomelab(ctx context.Context, s *stack) (*homelab, error) {
	hl := &homelab{stack: s, started: time.Now()}
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
	if hl.mirrored, err = e.mirrorSources(ctx, dir); err != nil {
		return nil, err
	}
	if _, err := gitserver.Git(ctx, dir, "commit", "--quiet", "-am", "e2e: fetch from the local Git server"); err != nil {
		return nil, err
	}
	if _, err := gitserver.Git(ctx, dir, "push", "--quiet", url, "HEAD:refs/heads/"+branch); err != nil {
		return nil, err
	}
	sha, err := gitserver.Git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return nil, err
	}
	hl.commit = strings.TrimSpace(sha)

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
	if err := kube.ApplyFile(ctx, s.c, syncPath); err != nil {
		return nil, fmt.Errorf("apply the sync objects: %w", err)
	}
	e.log.Info("clusters/homelab syncing from the local Git server", "commit", short(hl.commit), "mirrored", hl.mirrored)
	return hl, nil
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

// checkHomelab waits for flux-system to apply the clone's commit, then
// reports each Kustomization of clusters/homelab: Ready, or why not. A
// reason other than something that cannot be had offline (a chart, a Git
// source without a mirror, an operator that would set the status a health
// check waits for) fails the run.
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

	// Give the layers below flux-system time to get as far as they can
	// offline: until every Kustomization is Ready or has stopped on
	// something it cannot get, or a minute has passed.
	settle, cancel2 := context.WithTimeout(ctx, time.Minute)
	defer cancel2()
	_ = proc.WaitFor(settle, nil, time.Second, func(ctx context.Context) (bool, error) {
		var list kustomizev1.KustomizationList
		if err := c.List(ctx, &list, client.InNamespace(fluxNS)); err != nil {
			return false, err
		}
		return len(list.Items) >= len(homelabKustomizations) && settled(list.Items), nil
	})

	out, err := e.flux(ctx, hl.stack, "get", "kustomizations", "-n", fluxNS)
	fmt.Printf("\n[homelab] $ flux get kustomizations -n %s\n%s\n", fluxNS, out)
	if err != nil {
		return err
	}
	var missing []string
	for _, name := range homelabKustomizations {
		if !listed(out, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		e.rep.Fail("homelab: flux get kustomizations lists the layers", "missing: "+strings.Join(missing, ", "))
	} else {
		e.rep.Pass("homelab: flux get kustomizations lists the layers", strings.Join(homelabKustomizations, ", "), 0)
	}

	var list kustomizev1.KustomizationList
	if err := c.List(ctx, &list, client.InNamespace(fluxNS)); err != nil {
		return fmt.Errorf("list Kustomizations: %w", err)
	}
	why, err := offlineReasons(ctx, c)
	if err != nil {
		return err
	}
	ready := map[string]bool{}
	for _, ks := range list.Items {
		ready[ks.Namespace+"/"+ks.Name] = flux.Ready(ks.Status.Conditions).Status == metav1.ConditionTrue
	}
	for _, ks := range list.Items {
		e.explain(ctx, c, &ks, ready, why)
	}
	if e.o.withoutCharts {
		return e.applyWithoutCharts(ctx, hl)
	}
	return nil
}

// offlineReasons collects, by object, the Ready messages of the sources and
// HelmReleases that are not Ready.
type reasons struct {
	sources  map[string]string // "GitRepository/name" -> message
	releases map[string]string // "namespace/name" -> message
}

func offlineReasons(ctx context.Context, c client.Client) (*reasons, error) {
	r := &reasons{sources: map[string]string{}, releases: map[string]string{}}
	var git sourcev1.GitRepositoryList
	if err := c.List(ctx, &git); err != nil {
		return nil, fmt.Errorf("list GitRepositories: %w", err)
	}
	for _, s := range git.Items {
		if cond := flux.Ready(s.Status.Conditions); cond.Status != metav1.ConditionTrue {
			r.sources["GitRepository/"+s.Namespace+"/"+s.Name] = cond.Message
		}
	}
	var helm sourcev1.HelmRepositoryList
	if err := c.List(ctx, &helm); err != nil {
		return nil, fmt.Errorf("list HelmRepositories: %w", err)
	}
	for _, s := range helm.Items {
		cond := flux.Ready(s.Status.Conditions)
		switch {
		case cond.Status == metav1.ConditionTrue:
		case s.Spec.Type == sourcev1.HelmRepositoryTypeOCI && cond.Reason == "NoStatus":
			r.sources["HelmRepository/"+s.Namespace+"/"+s.Name] = s.Spec.URL + ": an OCI registry, contacted only when a HelmChart pulls from it"
		default:
			r.sources["HelmRepository/"+s.Namespace+"/"+s.Name] = s.Spec.URL + ": " + cond.Message
		}
	}
	var oci sourcev1.OCIRepositoryList
	if err := c.List(ctx, &oci); err != nil {
		return nil, fmt.Errorf("list OCIRepositories: %w", err)
	}
	for _, s := range oci.Items {
		if cond := flux.Ready(s.Status.Conditions); cond.Status != metav1.ConditionTrue {
			r.sources["OCIRepository/"+s.Namespace+"/"+s.Name] = s.Spec.URL + ": " + cond.Message
		}
	}
	var hrs helmv2.HelmReleaseList
	if err := c.List(ctx, &hrs); err != nil {
		return nil, fmt.Errorf("list HelmReleases: %w", err)
	}
	for _, hr := range hrs.Items {
		if cond := flux.Ready(hr.Status.Conditions); cond.Status != metav1.ConditionTrue {
			r.releases[hr.Namespace+"/"+hr.Name] = cond.Reason + ": " + cond.Message
		}
	}
	return r, nil
}

// explain reports one Kustomization: a pass when Ready, a note naming the
// offline cause when it waits on one, a failure otherwise.
func (e *env) explain(ctx context.Context, c client.Client, ks *kustomizev1.Kustomization, ready map[string]bool, why *reasons) {
	name := "homelab: Kustomization " + ks.Name
	r := flux.Ready(ks.Status.Conditions)
	switch {
	case r.Status == metav1.ConditionTrue:
		applied, missing := inventoryPresent(ctx, c, ks)
		if len(missing) > 0 {
			e.rep.Fail(name, fmt.Sprintf("Ready, but %d inventory objects are not in the API: %s", len(missing), strings.Join(missing, ", ")))
			return
		}
		e.rep.Pass(name, fmt.Sprintf("Ready at %s, %d objects applied", ks.Status.LastAppliedRevision, applied), 0)

	case r.Reason == "DependencyNotReady" && len(unreadyDependencies(ks, ready)) > 0:
		e.rep.Pass(name+" waits for its dependencies", fmt.Sprintf("not Ready only because %s is not Ready (%s)",
			strings.Join(unreadyDependencies(ks, ready), ", "), r.Message), 0)

	case ks.Spec.SourceRef.Kind == "GitRepository" && why.sources["GitRepository/"+sourceNS(ks)+"/"+ks.Spec.SourceRef.Name] != "":
		e.rep.Note("%s not Ready, its GitRepository %s cannot be fetched offline: %s", ks.Name, ks.Spec.SourceRef.Name,
			why.sources["GitRepository/"+sourceNS(ks)+"/"+ks.Spec.SourceRef.Name])

	default:
		// Applied, and waiting on the health of what it applied: fine only
		// when what it waits on is a HelmRelease whose chart cannot be
		// fetched here.
		applied, missing := inventoryPresent(ctx, c, ks)
		waiting := waitingReleases(ks, why)
		if len(missing) == 0 && applied > 0 && len(waiting) > 0 {
			e.rep.Pass(name+" applied everything that does not need a chart",
				fmt.Sprintf("%d objects in the API; not Ready (%s: %s) because of %d HelmReleases", applied, r.Reason, r.Message, len(waiting)), 0)
			for _, w := range waiting {
				e.rep.Note("%s", w)
			}
			for _, src := range slices.Sorted(maps.Keys(why.sources)) {
				if strings.HasPrefix(src, "HelmRepository/") || strings.HasPrefix(src, "OCIRepository/") {
					e.rep.Note("chart source %s not Ready offline: %s", src, why.sources[src])
				}
			}
			return
		}
		e.rep.Fail(name, fmt.Sprintf("not Ready for a reason the test does not accept offline: %s: %s (inventory: %d present, missing %v)", r.Reason, r.Message, applied, missing))
	}
}

func sourceNS(ks *kustomizev1.Kustomization) string {
	if ks.Spec.SourceRef.Namespace != "" {
		return ks.Spec.SourceRef.Namespace
	}
	return ks.Namespace
}

// waitingReleases lists the HelmReleases in the Kustomization's inventory
// that are not Ready, with their message.
func waitingReleases(ks *kustomizev1.Kustomization, why *reasons) []string {
	var out []string
	if ks.Status.Inventory == nil {
		return nil
	}
	for _, entry := range ks.Status.Inventory.Entries {
		ns, name, group, kind, ok := parseInventoryID(entry.ID)
		if !ok || group != helmv2.GroupVersion.Group || kind != "HelmRelease" {
			continue
		}
		if msg, notReady := why.releases[ns+"/"+name]; notReady {
			out = append(out, fmt.Sprintf("HelmRelease %s/%s not Ready: %s", ns, name, msg))
		}
	}
	slices.Sort(out)
	return out
}

// inventoryPresent counts the objects of the Kustomization's inventory that
// exist in the API and lists those that do not.
func inventoryPresent(ctx context.Context, c client.Client, ks *kustomizev1.Kustomization) (int, []string) {
	if ks.Status.Inventory == nil {
		return 0, nil
	}
	present := 0
	var missing []string
	for _, entry := range ks.Status.Inventory.Entries {
		ns, name, group, kind, ok := parseInventoryID(entry.ID)
		if !ok {
			missing = append(missing, entry.ID)
			continue
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: entry.Version, Kind: kind})
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			missing = append(missing, entry.ID)
			continue
		}
		present++
	}
	return present, missing
}

// parseInventoryID splits a Flux inventory id, "<namespace>_<name>_<group>_<kind>".
func parseInventoryID(id string) (ns, name, group, kind string, ok bool) {
	parts := strings.Split(id, "_")
	if len(parts) != 4 {
		return "", "", "", "", false
	}
	return parts[0], parts[1], parts[2], parts[3], true
}

// listed reports whether the `flux get` table has a row for name.
func listed(table, name string) bool {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// settled reports whether every Kustomization is in a state it keeps
// offline: Ready, failed, running health checks on what it applied, or
// waiting for a dependency that is itself not Ready.
func settled(list []kustomizev1.Kustomization) bool {
	ready := map[string]bool{}
	for _, ks := range list {
		ready[ks.Namespace+"/"+ks.Name] = flux.Ready(ks.Status.Conditions).Status == metav1.ConditionTrue
	}
	for _, ks := range list {
		r := flux.Ready(ks.Status.Conditions)
		switch {
		case r.Reason == "DependencyNotReady":
			if len(unreadyDependencies(&ks, ready)) == 0 {
				return false // about to go ahead
			}
		case r.Status != metav1.ConditionUnknown, healthChecking(&ks):
		default:
			return false
		}
	}
	return true
}

// healthChecking reports whether the Kustomization has applied its objects
// and is waiting for them to become healthy.
func healthChecking(ks *kustomizev1.Kustomization) bool {
	for _, c := range ks.Status.Conditions {
		if strings.Contains(c.Message, "Running health checks") {
			return true
		}
	}
	return false
}

// unreadyDependencies lists the dependsOn entries of ks that are not Ready.
func unreadyDependencies(ks *kustomizev1.Kustomization, ready map[string]bool) []string {
	var out []string
	for _, d := range ks.Spec.DependsOn {
		ns := d.Namespace
		if ns == "" {
			ns = ks.Namespace
		}
		if !ready[ns+"/"+d.Name] {
			out = append(out, ns+"/"+d.Name)
		}
	}
	return out
}

// fieldString returns the string at path in n, or "".
func fieldString(n *yaml.RNode, path ...string) string {
	v, err := n.Pipe(yaml.Lookup(path...))
	if err != nil || v == nil {
		return ""
	}
	return yaml.GetValue(v)
}

// chartCRDGroups are the API groups whose CRDs the charts of
// infrastructure/controllers install; tools/schemas/crds holds the upstream
// files (the validator's offline schemas).
var chartCRDGroups = []string{"cert-manager.io", "acme.cert-manager.io", "traefik.io", "rabbitmq.com", "mongodb.com", "mongodbcommunity.mongodb.com"}

// applyWithoutCharts shows what the layers behind the charts would apply:
// it installs the CRDs the charts would install (the upstream files in
// tools/schemas/crds), then adds, beside the real ones, copies of the
// infra-configs and apps Kustomizations named offline-<name>, without
// dependsOn and without health checks. Their Ready means that the API server
// accepted every object of those layers of the real tree (decrypted and
// substituted like the real ones); it does not claim that anything would
// run: no operator or chart workload exists here, and kwok's pods run
// nothing.
func (e *env) applyWithoutCharts(ctx context.Context, hl *homelab) error {
	c := hl.stack.c
	t := time.Now()
	dir := filepath.Join(e.o.repoDir, "tools", "schemas", "crds")
	crdDir := filepath.Join(e.work, "chart-crds")
	if err := os.MkdirAll(crdDir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, entry := range entries {
		group, _, ok := strings.Cut(entry.Name(), "_")
		if !ok || !slices.Contains(chartCRDGroups, group) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, entry.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(crdDir, entry.Name()), data, 0o644); err != nil {
			return err
		}
	}
	n, err := kube.ApplyCRDs(ctx, c, crdDir)
	if err != nil {
		return fmt.Errorf("apply the charts' CRDs: %w", err)
	}
	e.rep.Note("applied %d CRDs that the charts would install (tools/schemas/crds, upstream files) for the offline-* copies", n)

	for _, name := range []string{"infra-configs", "apps"} {
		var real kustomizev1.Kustomization
		if err := c.Get(ctx, client.ObjectKey{Namespace: fluxNS, Name: name}, &real); err != nil {
			return fmt.Errorf("get Kustomization %s: %w", name, err)
		}
		cp := &kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: fluxNS,
				Name:      "offline-" + name,
				Labels:    map[string]string{"e2e.homelab.dev/copy-of": name},
			},
			Spec: *real.Spec.DeepCopy(),
		}
		cp.Spec.DependsOn = nil
		cp.Spec.Wait = false
		cp.Spec.HealthChecks = nil
		cp.Spec.HealthCheckExprs = nil
		cp.Spec.Timeout = &metav1.Duration{Duration: 2 * time.Minute}
		if err := c.Create(ctx, cp); err != nil {
			return fmt.Errorf("create %s: %w", cp.Name, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		ks, err := flux.WaitKustomization(wctx, c, client.ObjectKeyFromObject(cp), flux.AppliedRevision(hl.commit))
		cancel()
		check := "homelab: offline-" + name + " (copy without dependsOn/health checks) applies"
		if err != nil {
			e.rep.Fail(check, err.Error())
			continue
		}
		applied, missing := inventoryPresent(ctx, c, ks)
		if len(missing) > 0 {
			e.rep.Fail(check, fmt.Sprintf("Ready, but not in the API: %s", strings.Join(missing, ", ")))
			continue
		}
		e.rep.Pass(check, fmt.Sprintf("every object of ./%s accepted by the API server: %d objects", strings.TrimPrefix(real.Spec.Path, "./"), applied), time.Since(t))
		t = time.Now()
	}
	return nil
}
