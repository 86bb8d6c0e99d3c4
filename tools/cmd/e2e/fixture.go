package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/flux"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/gitserver"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/proc"
)

// The fixture repository (tools/e2e/testdata/fixture) and the objects the
// flows look at.
const (
	fixtureDir      = "tools/e2e/testdata/fixture"
	fixtureSyncFile = "clusters/e2e/flux-system/gotk-sync.yaml"
	fixtureFluxNS   = "flux-system"
	fixtureAppNS    = "fitness-e2e"
	webFile         = "apps/web/web-deployment.yaml"
	bannerFile      = "apps/web/web-config.yaml"
	appsKustomize   = "apps/web/kustomization.yaml"
)

var (
	fixtureSync = client.ObjectKey{Namespace: fixtureFluxNS, Name: "flux-system"}
	fixtureApps = client.ObjectKey{Namespace: fixtureFluxNS, Name: "apps"}
	webKey      = client.ObjectKey{Namespace: fixtureAppNS, Name: "web"}
	bannerKey   = client.ObjectKey{Namespace: fixtureAppNS, Name: "web-banner"}
)

// gitRepo is a working clone that the test commits to and pushes from
// (origin is the local Git server).
type gitRepo struct {
	dir    string
	branch string
}

func (r *gitRepo) git(ctx context.Context, args ...string) (string, error) {
	return gitserver.Git(ctx, r.dir, args...)
}

// commit commits everything in the working tree and returns the commit id.
func (r *gitRepo) commit(ctx context.Context, msg string) (string, error) {
	if _, err := r.git(ctx, "add", "-A"); err != nil {
		return "", err
	}
	if _, err := r.git(ctx, "commit", "--quiet", "-m", msg); err != nil {
		return "", err
	}
	sha, err := r.git(ctx, "rev-parse", "HEAD")
	return strings.TrimSpace(sha), err
}

func (r *gitRepo) push(ctx context.Context) error {
	_, err := r.git(ctx, "push", "--quiet", "origin", "HEAD:refs/heads/"+r.branch)
	return err
}

// edit replaces old with new in a file of the working tree; old must occur.
func (r *gitRepo) edit(path, old, new string) error {
	p := filepath.Join(r.dir, path)
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if !bytes.Contains(data, []byte(old)) {
		return fmt.Errorf("%s does not contain %q", path, old)
	}
	return os.WriteFile(p, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644)
}

func (e *env) runFixture(ctx context.Context, s *stack) error {
	t := time.Now()
	url, err := e.git.CreateRepo(ctx, "fixture", "main")
	if err != nil {
		return err
	}
	r := &gitRepo{dir: filepath.Join(e.work, "fixture-repo")}
	if err := os.CopyFS(r.dir, os.DirFS(filepath.Join(e.o.repoDir, fixtureDir))); err != nil {
		return fmt.Errorf("copy fixture: %w", err)
	}
	syncPath := filepath.Join(r.dir, fixtureSyncFile)
	data, err := os.ReadFile(syncPath)
	if err != nil {
		return fmt.Errorf("read fixture sync objects: %w", err)
	}
	data, r.branch, err = flux.PointGitRepository(data, fixtureSync.Name, url)
	if err != nil {
		return fmt.Errorf("%s: %w", fixtureSyncFile, err)
	}
	if err := os.WriteFile(syncPath, data, 0o644); err != nil {
		return fmt.Errorf("write fixture sync objects: %w", err)
	}
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=" + r.branch},
		{"remote", "add", "origin", url},
	} {
		if _, err := r.git(ctx, args...); err != nil {
			return err
		}
	}
	first, err := r.commit(ctx, "fixture: web app")
	if err != nil {
		return err
	}
	if err := r.push(ctx); err != nil {
		return err
	}
	if err := kube.Apply(ctx, s.c, []*unstructured.Unstructured{kube.Namespace(fixtureFluxNS)}); err != nil {
		return err
	}
	if err := kube.ApplyFile(ctx, s.c, syncPath); err != nil {
		return fmt.Errorf("apply fixture sync objects: %w", err)
	}

	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	_, err = flux.WaitKustomization(wctx, s.c, fixtureSync, flux.AppliedRevision(first))
	if err == nil {
		_, err = flux.WaitKustomization(wctx, s.c, fixtureApps, flux.AppliedRevision(first))
	}
	if err == nil {
		err = waitDeployment(wctx, s.c, webKey, 2, "info")
	}
	e.rep.Check("fixture: first sync", "Kustomizations flux-system and apps Ready at "+short(first)+"; Deployment web 2/2 available on kwok nodes", time.Since(t), err)
	if err != nil {
		return nil
	}

	if err := e.pushChange(ctx, s, r); err != nil {
		return err
	}
	if err := e.pushPrune(ctx, s, r); err != nil {
		return err
	}
	return e.pushBroken(ctx, s, r)
}

// pushChange changes the web Deployment in Git and measures how long the
// change takes to reach the API, against the Kustomization's interval.
func (e *env) pushChange(ctx context.Context, s *stack, r *gitRepo) error {
	var ks kustomizev1.Kustomization
	if err := s.c.Get(ctx, fixtureApps, &ks); err != nil {
		return fmt.Errorf("get %s: %w", fixtureApps, err)
	}
	interval := ks.Spec.Interval.Duration
	if err := r.edit(webFile, "replicas: 2", "replicas: 3"); err != nil {
		return err
	}
	if err := r.edit(webFile, "value: info", "value: debug"); err != nil {
		return err
	}
	sha, err := r.commit(ctx, "web: three replicas, debug logging")
	if err != nil {
		return err
	}
	if err := r.push(ctx); err != nil {
		return err
	}
	pushed := time.Now()
	wctx, cancel := context.WithTimeout(ctx, interval+30*time.Second)
	defer cancel()
	err = proc.WaitFor(wctx, nil, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		var d appsv1.Deployment
		if err := s.c.Get(ctx, webKey, &d); err != nil {
			return false, err
		}
		return deploymentSpecIs(&d, 3, "debug"), nil
	})
	reached := time.Since(pushed)
	if err == nil && reached > interval {
		err = fmt.Errorf("the change reached the API after %s, more than the Kustomization's interval %s", reached.Round(100*time.Millisecond), interval)
	}
	e.rep.Check("fixture: pushed change reaches the API",
		fmt.Sprintf("commit %s (replicas 2→3, LOG_LEVEL info→debug) in the Deployment %s after the push; interval %s",
			short(sha), reached.Round(100*time.Millisecond), interval), 0, err)
	if err != nil {
		return nil
	}
	t := time.Now()
	wctx2, cancel2 := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel2()
	err = waitDeployment(wctx2, s.c, webKey, 3, "debug")
	if err == nil {
		_, err = flux.WaitKustomization(wctx2, s.c, fixtureApps, flux.AppliedRevision(sha))
	}
	e.rep.Check("fixture: rollout", "3/3 replicas available, apps Ready at "+short(sha), time.Since(t), err)
	return nil
}

// pushPrune removes the banner ConfigMap from Git and waits for Flux to
// delete it from the cluster.
func (e *env) pushPrune(ctx context.Context, s *stack, r *gitRepo) error {
	var cm corev1.ConfigMap
	if err := s.c.Get(ctx, bannerKey, &cm); err != nil {
		e.rep.Fail("fixture: prune", fmt.Sprintf("ConfigMap %s is not there to begin with: %v", bannerKey, err))
		return nil
	}
	if err := os.Remove(filepath.Join(r.dir, bannerFile)); err != nil {
		return fmt.Errorf("remove %s: %w", bannerFile, err)
	}
	if err := r.edit(appsKustomize, "  - web-config.yaml\n", ""); err != nil {
		return err
	}
	sha, err := r.commit(ctx, "web: drop the banner ConfigMap")
	if err != nil {
		return err
	}
	if err := r.push(ctx); err != nil {
		return err
	}
	t := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err = proc.WaitFor(wctx, nil, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		err := s.c.Get(ctx, bannerKey, &corev1.ConfigMap{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err == nil {
		_, err = flux.WaitKustomization(wctx, s.c, fixtureApps, flux.AppliedRevision(sha))
	}
	e.rep.Check("fixture: removed object is pruned", "ConfigMap "+bannerKey.String()+" deleted after commit "+short(sha), time.Since(t), err)
	return nil
}

// pushBroken commits a Deployment with a wrongly typed field, runs the
// validator on that commit (it must fail), pushes it, and checks that the
// Kustomization turns not Ready with the API server's error while the last
// good state stays applied. A revert then restores Ready.
func (e *env) pushBroken(ctx context.Context, s *stack, r *gitRepo) error {
	const check = "fixture: validator flags the broken commit before the push"
	var goodOut string
	var goodCode int
	var goodErr error
	if e.o.validator != "" {
		goodOut, goodCode, goodErr = e.validate(ctx, r.dir)
	}
	if err := r.edit(webFile, "replicas: 3", `replicas: "three"`); err != nil {
		return err
	}
	sha, err := r.commit(ctx, "web: broken replicas")
	if err != nil {
		return err
	}
	if e.o.validator == "" {
		e.rep.Fail(check, "no -validator given")
	} else {
		t := time.Now()
		out, code, err := e.validate(ctx, r.dir)
		added := newLines(goodOut, out)
		switch {
		case goodErr != nil:
			e.rep.Fail(check, "on the last good commit: "+goodErr.Error())
		case goodCode != 0:
			// The fixture is meant to be clean: a finding there is a
			// validator or policy change the fixture has not followed.
			e.rep.Fail(check, fmt.Sprintf("the last good commit exits %d, want 0; output:\n%s", goodCode, goodOut))
		case err != nil:
			e.rep.Fail(check, err.Error())
		case code != 1:
			e.rep.Fail(check, fmt.Sprintf("exit code %d, want 1; output:\n%s", code, out))
		case !mentions(added, "replicas", "web-deployment.yaml"):
			e.rep.Fail(check, "exit code 1 but no finding that the last good commit lacks names replicas or web-deployment.yaml:\n"+out)
		default:
			e.rep.Pass(check, fmt.Sprintf("exit 1 (last good commit: exit %d); new finding: %s", goodCode, firstLine(strings.Join(added, "\n"), "replicas")), time.Since(t))
		}
	}

	if err := r.push(ctx); err != nil {
		return err
	}
	t := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ks, err := flux.WaitKustomization(wctx, s.c, fixtureApps, flux.FailedAt(sha))
	detail := ""
	if err == nil {
		msg := flux.Ready(ks.Status.Conditions).Message
		detail = "Ready=False: " + msg
		if !strings.Contains(msg, "Deployment") || !strings.Contains(msg, "web") {
			err = fmt.Errorf("the error does not name Deployment web: %s", msg)
		}
	}
	if err == nil {
		var d appsv1.Deployment
		if err = s.c.Get(ctx, webKey, &d); err == nil && !deploymentSpecIs(&d, 3, "debug") {
			err = errors.New("the last good Deployment was not kept")
		}
	}
	e.rep.Check("fixture: broken commit leaves the Kustomization not Ready", detail, time.Since(t), err)

	if _, err := r.git(ctx, "revert", "--no-edit", "HEAD"); err != nil {
		return err
	}
	fixed, err := gitHead(ctx, r)
	if err != nil {
		return err
	}
	if err := r.push(ctx); err != nil {
		return err
	}
	t = time.Now()
	wctx2, cancel2 := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel2()
	_, err = flux.WaitKustomization(wctx2, s.c, fixtureApps, flux.AppliedRevision(fixed))
	e.rep.Check("fixture: revert restores Ready", "apps Ready at "+short(fixed), time.Since(t), err)
	return nil
}

// validate runs the validator in dir and returns its combined output and
// exit code; err is set only when it could not run.
func (e *env) validate(ctx context.Context, dir string) (string, int, error) {
	cmd := exec.CommandContext(ctx, e.o.validator, strings.Fields(e.o.validatorArgs)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode(), nil
	}
	if err != nil {
		return string(out), 0, fmt.Errorf("run validator: %w", err)
	}
	return string(out), 0, nil
}

// newLines returns the lines of after that are not lines of before.
func newLines(before, after string) []string {
	seen := map[string]bool{}
	for _, l := range strings.Split(before, "\n") {
		seen[strings.TrimSpace(l)] = true
	}
	var out []string
	for _, l := range strings.Split(after, "\n") {
		if l = strings.TrimSpace(l); l != "" && !seen[l] {
			out = append(out, l)
		}
	}
	return out
}

// mentions reports whether a line contains one of the words.
func mentions(lines []string, words ...string) bool {
	for _, l := range lines {
		for _, w := range words {
			if strings.Contains(l, w) {
				return true
			}
		}
	}
	return false
}

func gitHead(ctx context.Context, r *gitRepo) (string, error) {
	sha, err := r.git(ctx, "rev-parse", "HEAD")
	return strings.TrimSpace(sha), err
}

// deploymentSpecIs reports whether the Deployment asks for replicas pods
// with LOG_LEVEL=logLevel.
func deploymentSpecIs(d *appsv1.Deployment, replicas int32, logLevel string) bool {
	if d.Spec.Replicas == nil || *d.Spec.Replicas != replicas {
		return false
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, env := range c.Env {
			if env.Name == "LOG_LEVEL" && env.Value == logLevel {
				return true
			}
		}
	}
	return false
}

// waitDeployment waits until the Deployment has rolled out: the wanted
// spec, observed, with every replica updated and available.
func waitDeployment(ctx context.Context, c client.Client, key client.ObjectKey, replicas int32, logLevel string) error {
	return proc.WaitFor(ctx, nil, 300*time.Millisecond, func(ctx context.Context) (bool, error) {
		var d appsv1.Deployment
		if err := c.Get(ctx, key, &d); err != nil {
			return false, err
		}
		s := d.Status
		if deploymentSpecIs(&d, replicas, logLevel) && s.ObservedGeneration == d.Generation &&
			s.UpdatedReplicas == replicas && s.AvailableReplicas == replicas && s.Replicas == replicas {
			return true, nil
		}
		return false, fmt.Errorf("Deployment %s: %d/%d available, %d updated", key, s.AvailableReplicas, replicas, s.UpdatedReplicas)
	})
}

func short(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}

// firstLine returns the first line of out containing substr, else the
// first line.
func firstLine(out, substr string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if strings.Contains(l, substr) {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[0])
}
