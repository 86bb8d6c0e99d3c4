// Package proofs pushes changes to the served clone of this repository
// through Git and checks what the cluster does with them: stateful objects
// survive their removal from Git, a broken chart value stops at Helm (and
// at the validator) and its revert recovers, and a Traefik upgrade
// completes its rollout on the five-node topology.
package proofs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/cluster"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/flux"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/gitserver"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/proc"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/report"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/validator"
)

// The files and objects the proofs change in the clone of the tree.
const (
	traefikRelease     = "infrastructure/controllers/traefik/release.yaml"
	certManagerRelease = "infrastructure/controllers/cert-manager/release.yaml"
	rolloutAnnotation  = "e2e.homelab.dev/rollout"
)

var (
	traefikKey     = client.ObjectKey{Namespace: "traefik", Name: "traefik"}
	certManagerKey = client.ObjectKey{Namespace: "cert-manager", Name: "cert-manager"}
	// fluxSource is the GitRepository bootstrap creates.
	fluxSource = client.ObjectKey{Namespace: flux.Namespace, Name: flux.Namespace}
	// statefulFiles hold the stateful objects and their namespaces: a
	// commit that removes them must leave the objects in the cluster.
	statefulFiles = []string{
		"infrastructure/configs/rabbitmq/rabbitmqcluster.yaml",
		"infrastructure/configs/rabbitmq/namespace.yaml",
		"infrastructure/configs/mongodb/mongodbcommunity.yaml",
		"infrastructure/controllers/mongodb-operator/namespace-mongodb.yaml",
	}
)

// Env is what the proofs use.
type Env struct {
	// Client talks to the cluster that reconciles the clone.
	Client client.Client
	// Repo is the clone Flux fetches from, at the commit it is Ready at.
	Repo *gitserver.Worktree
	// Validator runs on the broken chart value before it is pushed.
	Validator validator.Validator
	Report    *report.Report
	// UnschedulableFor is how long a rollout's new pod may stay
	// unschedulable before the rollout counts as deadlocked.
	UnschedulableFor time.Duration
	// Flux holds notification-controller's receiver and source-controller's
	// metrics addresses; RepoURL is the clone's URL on the Git server.
	Flux    flux.Endpoints
	RepoURL string
}

// Run pushes the changes through Git, each a step of its own: a signed
// push event to the Receiver reconciles a new commit at once (and a
// wrongly signed one nothing), stateful objects survive their removal from
// Git, a broken chart value stops at Helm (and at the validator) and its
// revert recovers, and a Traefik upgrade completes its rollout. The
// rollout comes last: when it deadlocks, Helm holds the release for its
// whole timeout, which would hold up the other steps. A failed check is
// reported; err is set only when a step could not be run.
func Run(ctx context.Context, e Env) error {
	for _, step := range []func(context.Context, Env) error{webhook, prune, brokenChart, rollout} {
		if err := step(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// push commits the clone's working tree, pushes it and asks
// source-controller to fetch at once, as `flux reconcile source git
// flux-system` does, instead of waiting for the GitRepository's interval.
func push(ctx context.Context, e Env, msg string) (string, error) {
	sha, err := e.Repo.Commit(ctx, msg)
	if err != nil {
		return "", err
	}
	if err := e.Repo.Push(ctx); err != nil {
		return "", err
	}
	return sha, flux.RequestReconcile(ctx, e.Client, &sourcev1.GitRepository{}, fluxSource)
}

// editHelmRelease applies edit to the HelmRelease of a file of the clone.
func editHelmRelease(dir, file string, edit func(*yaml.RNode) error) error {
	path := filepath.Join(dir, file)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	nodes, err := kio.FromBytes(data)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	found := false
	for _, n := range nodes {
		if n.GetKind() == "HelmRelease" {
			found = true
			if err := edit(n); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
		}
	}
	if !found {
		return fmt.Errorf("%s: no HelmRelease", file)
	}
	out, err := kio.StringAll(nodes)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// removeResource deletes a file of the clone and its entry in the
// kustomization.yaml beside it.
func removeResource(dir, file string) error {
	if err := os.Remove(filepath.Join(dir, file)); err != nil {
		return err
	}
	kpath := filepath.Join(dir, filepath.Dir(file), "kustomization.yaml")
	k, err := yaml.ReadFile(kpath)
	if err != nil {
		return err
	}
	res, err := k.Pipe(yaml.Lookup("resources"))
	if err != nil || res == nil {
		return fmt.Errorf("%s: no resources list", kpath)
	}
	elems, err := res.Elements()
	if err != nil {
		return fmt.Errorf("%s: %w", kpath, err)
	}
	name := filepath.Base(file)
	for _, el := range elems {
		if yaml.GetValue(el) == name {
			res.YNode().Content = slices.DeleteFunc(res.YNode().Content, func(n *yaml.Node) bool { return n == el.YNode() })
			return yaml.WriteFile(k, kpath)
		}
	}
	return fmt.Errorf("%s does not list %s", kpath, name)
}

// prune removes the RabbitmqCluster, the MongoDBCommunity and their
// namespaces from Git and checks that Flux applies the commit and leaves
// all four in the cluster.
func prune(ctx context.Context, e Env) error {
	const check = "homelab: stateful objects and their namespaces survive their removal from Git"
	c := e.Client
	var kept []*unstructured.Unstructured
	for _, f := range statefulFiles {
		data, err := os.ReadFile(filepath.Join(e.Repo.Dir, f))
		if err != nil {
			return err
		}
		objs, err := kube.DecodeYAML(data)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		kept = append(kept, objs...)
		if err := removeResource(e.Repo.Dir, f); err != nil {
			return err
		}
	}
	sha, err := push(ctx, e, "e2e: remove the RabbitMQ and MongoDB clusters and their namespaces from Git")
	if err != nil {
		return err
	}
	t := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for _, name := range []string{"infra-controllers", "infra-configs"} {
		if _, err = flux.WaitKustomization(wctx, c, client.ObjectKey{Namespace: flux.Namespace, Name: name}, flux.AppliedRevision(sha)); err != nil {
			e.Report.Fail(check, fmt.Sprintf("%s did not apply %s: %v", name, gitserver.Short(sha), err))
			return nil
		}
	}
	took := time.Since(t)
	var names, gone []string
	for _, want := range kept {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(want.GroupVersionKind())
		id := want.GetKind() + " " + strings.TrimPrefix(want.GetNamespace()+"/"+want.GetName(), "/")
		names = append(names, id)
		err := c.Get(ctx, client.ObjectKey{Namespace: want.GetNamespace(), Name: want.GetName()}, u)
		switch {
		case apierrors.IsNotFound(err):
			gone = append(gone, id+" (deleted)")
		case err != nil:
			return fmt.Errorf("get %s: %w", id, err)
		case u.GetDeletionTimestamp() != nil:
			gone = append(gone, id+" (being deleted)")
		}
	}
	if len(gone) > 0 {
		e.Report.Fail(check, fmt.Sprintf("commit %s applied and Flux pruned: %s", gitserver.Short(sha), strings.Join(gone, ", ")))
		return nil
	}
	e.Report.Pass(check, fmt.Sprintf("commit %s applied by infra-controllers and infra-configs; still in the cluster: %s", gitserver.Short(sha), strings.Join(names, ", ")), took)
	return nil
}

// brokenChart pushes a chart value of the wrong type: the validator
// must flag the commit, the HelmRelease must turn not Ready with Helm's
// error while the running release stays, and a revert must restore Ready.
func brokenChart(ctx context.Context, e Env) error {
	const (
		flagged = "homelab: validator flags the broken chart value"
		stopped = "homelab: broken chart value leaves the HelmRelease not Ready with Helm's error"
	)
	c := e.Client
	var goodOut string
	var goodCode int
	var goodErr error
	if e.Validator.Enabled() {
		goodOut, goodCode, goodErr = e.Validator.Run(ctx, e.Repo.Dir)
	}
	if err := editHelmRelease(e.Repo.Dir, certManagerRelease, func(n *yaml.RNode) error {
		return n.PipeE(yaml.Lookup("spec", "values"), yaml.SetField("replicaCount", yaml.NewStringRNode("two")))
	}); err != nil {
		return err
	}
	var before helmv2.HelmRelease
	if err := c.Get(ctx, certManagerKey, &before); err != nil {
		return fmt.Errorf("get HelmRelease %s: %w", certManagerKey, err)
	}
	if !e.Validator.Enabled() {
		e.Report.Fail(flagged, "no -validator given")
	} else {
		t := time.Now()
		out, code, err := e.Validator.Run(ctx, e.Repo.Dir)
		added := validator.NewLines(goodOut, out)
		switch {
		case goodErr != nil:
			e.Report.Fail(flagged, "on the last good commit: "+goodErr.Error())
		case err != nil:
			e.Report.Fail(flagged, err.Error())
		case code != 1:
			e.Report.Fail(flagged, fmt.Sprintf("exit code %d, want 1; output:\n%s", code, out))
		case !validator.Mentions(added, "replicaCount"):
			e.Report.Fail(flagged, "exit code 1 but no finding that the last good tree lacks names replicaCount:\n"+out)
		default:
			e.Report.Pass(flagged, fmt.Sprintf("exit 1 (last good tree: exit %d); new finding: %s", goodCode, validator.FirstLine(strings.Join(added, "\n"), "replicaCount")), time.Since(t))
		}
	}
	sha, err := push(ctx, e, "cert-manager: two replicas, spelled out")
	if err != nil {
		return err
	}
	t := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var hr helmv2.HelmRelease
	var helmErr string
	err = proc.WaitFor(wctx, nil, time.Second, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, certManagerKey, &hr); err != nil {
			return false, err
		}
		r := flux.Ready(hr.Status.Conditions)
		if hr.Generation == before.Generation {
			return false, errors.New("the HelmRelease was not changed by the commit")
		}
		// Helm's error is in Ready, or, once remediation has run, in the
		// condition of the failed action (Released).
		helmErr = conditionMentioning(hr.Status.Conditions, "replicaCount")
		return r.Status == metav1.ConditionFalse && r.ObservedGeneration == hr.Generation && helmErr != "", fmt.Errorf("Ready=%s: %s", r.Status, r.Message)
	})
	detail := ""
	if err == nil {
		detail = "commit " + gitserver.Short(sha) + ": Ready=False (" + flux.Ready(hr.Status.Conditions).Reason + "); " + helmErr
		var d appsv1.Deployment
		switch err = c.Get(ctx, certManagerKey, &d); {
		case err != nil:
		case d.Status.AvailableReplicas != 2:
			err = fmt.Errorf("the running release changed: Deployment %s has %d available replicas, want 2", certManagerKey, d.Status.AvailableReplicas)
		default:
			detail += "; the running release (2/2 available) stays"
		}
	}
	e.Report.Check(stopped, detail, time.Since(t), err)

	if _, err := e.Repo.Git(ctx, "revert", "--no-edit", "HEAD"); err != nil {
		return err
	}
	fixed, err := e.Repo.Head(ctx)
	if err != nil {
		return err
	}
	if err := e.Repo.Push(ctx); err != nil {
		return err
	}
	if err := flux.RequestReconcile(ctx, c, &sourcev1.GitRepository{}, fluxSource); err != nil {
		return err
	}
	t = time.Now()
	detail, err = recoverRelease(ctx, c, fixed)
	e.Report.Check("homelab: revert restores Ready", detail, time.Since(t), err)
	return nil
}

// helmStaleFailureWait is how long a revert is given to clear the
// HelmRelease's failure by itself before the runbook's forced
// reconciliation.
const helmStaleFailureWait = time.Minute

// recoverRelease waits until infra-controllers is Ready at the revert
// commit fixed. helm-controller v1.4 (Flux v2.7) leaves a HelmRelease
// Ready=False after a revert to the release that is running: the release is
// in sync, so no action runs and the failure of the reverted generation
// stays (fluxcd/helm-controller#1362, fixed in v1.5.0). When that happens
// the step does what docs/runbook.md tells the operator,
// `flux reconcile helmrelease --force`, and says so.
func recoverRelease(ctx context.Context, c client.Client, fixed string) (string, error) {
	key := client.ObjectKey{Namespace: flux.Namespace, Name: "infra-controllers"}
	detail := "infra-controllers Ready at " + gitserver.Short(fixed) + " with HelmRelease cert-manager Ready"
	wctx, cancel := context.WithTimeout(ctx, helmStaleFailureWait)
	_, err := flux.WaitKustomization(wctx, c, key, flux.AppliedRevision(fixed))
	cancel()
	if err == nil {
		return detail + ", no intervention", nil
	}
	var hr helmv2.HelmRelease
	if err := c.Get(ctx, certManagerKey, &hr); err != nil {
		return "", fmt.Errorf("get HelmRelease %s: %w", certManagerKey, err)
	}
	r := flux.Ready(hr.Status.Conditions)
	if r.Status != metav1.ConditionFalse || r.ObservedGeneration != hr.Generation {
		return "", fmt.Errorf("infra-controllers not Ready %s after the revert, HelmRelease %s Ready=%s (%s) at generation %d of %d: %w",
			helmStaleFailureWait, certManagerKey, r.Status, r.Reason, r.ObservedGeneration, hr.Generation, err)
	}
	stale := fmt.Sprintf("HelmRelease %s kept Ready=False (%s) at the reverted generation %d for %s (fluxcd/helm-controller#1362 in helm-controller v1.4)",
		certManagerKey, r.Reason, hr.Generation, helmStaleFailureWait)
	if err := flux.ForceReconcile(ctx, c, &hr); err != nil {
		return "", err
	}
	t := time.Now()
	wctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if _, err := flux.WaitKustomization(wctx, c, key, flux.AppliedRevision(fixed)); err != nil {
		return "", fmt.Errorf("%s; after flux reconcile helmrelease --force: %w", stale, err)
	}
	return fmt.Sprintf("%s; %s; `flux reconcile helmrelease --force` (docs/runbook.md) recovered it in %s",
		detail, stale, time.Since(t).Round(100*time.Millisecond)), nil
}

// rollout changes Traefik's pod template through Git and waits for
// the upgrade to roll out: with maxSurge 1 and maxUnavailable 0 the new pod
// must be scheduled next to the two running ones. A pod that the scheduler
// keeps refusing ends the step early with the scheduler's reason, instead
// of waiting out Helm's timeout.
func rollout(ctx context.Context, e Env) error {
	const check = "homelab: a Traefik upgrade pushed through Git completes its rollout"
	c := e.Client
	var before appsv1.Deployment
	if err := c.Get(ctx, traefikKey, &before); err != nil {
		return fmt.Errorf("get Deployment %s: %w", traefikKey, err)
	}
	// Not a timestamp: YAML would read an unquoted one as a time.
	stamp := "e2e-" + strconv.FormatInt(time.Now().Unix(), 10)
	if err := editHelmRelease(e.Repo.Dir, traefikRelease, func(n *yaml.RNode) error {
		return n.PipeE(yaml.LookupCreate(yaml.MappingNode, "spec", "values", "deployment", "podAnnotations"),
			yaml.SetField(rolloutAnnotation, yaml.NewStringRNode(stamp)))
	}); err != nil {
		return err
	}
	sha, err := push(ctx, e, "traefik: roll the pods")
	if err != nil {
		return err
	}
	t := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	// A deadlock ends the wait at once, through the context's cause.
	rctx, stop := context.WithCancelCause(wctx)
	defer stop(nil)
	var stuckSince time.Time
	var stuck string
	var placed []string
	err = proc.WaitFor(rctx, nil, time.Second, func(ctx context.Context) (bool, error) {
		var d appsv1.Deployment
		if err := c.Get(ctx, traefikKey, &d); err != nil {
			return false, err
		}
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(traefikKey.Namespace), client.MatchingLabels(before.Spec.Selector.MatchLabels)); err != nil {
			return false, err
		}
		if msg := unschedulable(pods.Items); msg == "" {
			stuckSince = time.Time{}
		} else if stuckSince.IsZero() {
			stuckSince, stuck = time.Now(), msg
		} else if time.Since(stuckSince) > e.UnschedulableFor {
			stop(fmt.Errorf("%w: a new Traefik pod stayed Pending for %s: %s", errDeadlock, e.UnschedulableFor, stuck))
			return false, nil
		}
		want := *d.Spec.Replicas
		s := d.Status
		done := d.Spec.Template.Annotations[rolloutAnnotation] == stamp && s.ObservedGeneration == d.Generation &&
			s.UpdatedReplicas == want && s.AvailableReplicas == want && s.Replicas == want
		if !done {
			return false, fmt.Errorf("Deployment %s: %d/%d updated, %d available, %d in all", traefikKey, s.UpdatedReplicas, want, s.AvailableReplicas, s.Replicas)
		}
		var hr helmv2.HelmRelease
		if err := c.Get(ctx, traefikKey, &hr); err != nil {
			return false, err
		}
		if r := flux.Ready(hr.Status.Conditions); r.Status != metav1.ConditionTrue || r.ObservedGeneration != hr.Generation {
			return false, fmt.Errorf("HelmRelease %s: Ready=%s: %s", traefikKey, r.Status, r.Message)
		}
		placed = placed[:0]
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && p.Annotations[rolloutAnnotation] == stamp {
				placed = append(placed, p.Spec.NodeName)
			}
		}
		slices.Sort(placed)
		return true, nil
	})
	if cause := context.Cause(rctx); errors.Is(cause, errDeadlock) {
		err = fmt.Errorf("commit %s: %w", gitserver.Short(sha), cause)
	}
	// The rollout must leave the replicas spread as the first install did:
	// a constraint that counts the old revision's pods lets the new ones
	// land together (policy reliability-spread-rollout).
	if nodes := slices.Compact(slices.Clone(placed)); err == nil && len(nodes) < min(len(placed), len(workers())) {
		err = fmt.Errorf("commit %s: after the rollout the %d new pods run on %s only: one node's loss takes every replica", gitserver.Short(sha), len(placed), strings.Join(nodes, ", "))
	}
	e.Report.Check(check, fmt.Sprintf("commit %s: HelmRelease upgraded, %d pods replaced one at a time (maxSurge 1, maxUnavailable 0), new pods on %s",
		gitserver.Short(sha), len(placed), strings.Join(placed, ", ")), time.Since(t), err)
	return nil
}

var errDeadlock = errors.New("rollout deadlocked")

// workers are the names of the untainted nodes of the cluster's topology.
func workers() []string {
	var out []string
	for _, n := range cluster.SeedTopology() {
		if !n.ControlPlane {
			out = append(out, n.Name)
		}
	}
	return out
}

// conditionMentioning returns "<type>: <message>" of the first condition
// whose message contains word, or "".
func conditionMentioning(conds []metav1.Condition, word string) string {
	for _, c := range conds {
		if strings.Contains(c.Message, word) {
			return c.Type + ": " + c.Message
		}
	}
	return ""
}

// unschedulable returns the scheduler's message for a pod it cannot
// place, or "".
func unschedulable(pods []corev1.Pod) string {
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
				return p.Name + ": " + cond.Message
			}
		}
	}
	return ""
}
