package proofs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/flux"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/githook"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/gitserver"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/proc"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/readiness"
)

var (
	// receiverKey is the tree's Git webhook Receiver
	// (infrastructure/configs/flux-notifications/receiver-git.yaml).
	receiverKey = client.ObjectKey{Namespace: flux.Namespace, Name: "git-push"}
	receiverGVK = schema.GroupVersionKind{Group: "notification.toolkit.fluxcd.io", Version: "v1", Kind: "Receiver"}
)

const (
	// intervalJitter is source-controller's default
	// --interval-jitter-percentage (5%): a GitRepository is fetched again
	// between 0.95 and 1.05 intervals after its last reconciliation.
	intervalJitter = 0.05
	// metricsPoll is how often the proof reads source-controller's
	// reconcile count while it waits for an interval fetch.
	metricsPoll = 250 * time.Millisecond
)

// webhook posts GitHub push events for a new commit to the tree's
// Receiver through notification-controller's webhook port. One signed with
// a wrong secret must be refused and request nothing; one signed with the
// token of the Receiver's SOPS Secret must set the GitRepository's
// reconcile.fluxcd.io/requestedAt and the commit must be fetched and
// applied before the GitRepository's interval could have fetched it.
//
// The interval bound is measured, not assumed: the proof first waits for
// a reconciliation that nobody requested (source-controller's reconcile
// count rises while requestedAt stays), which is the interval's timer; the
// next one cannot come before 0.95 intervals after it, and the new commit
// must be in the artifact before that.
func webhook(ctx context.Context, e Env) error {
	const (
		refused   = "homelab: a push event with a bad signature is refused and requests nothing"
		triggered = "homelab: a signed push event to the Receiver reconciles the new commit before the interval would"
	)
	c := e.Client
	recvURL, metrics := e.Flux.Receiver, e.Flux.Metrics["source-controller"]
	if recvURL == "" || metrics == "" {
		return errors.New("notification-controller's receiver or source-controller's metrics are not running")
	}
	path, tokenSecret, err := readyReceiver(ctx, c)
	if err != nil {
		e.Report.Fail(triggered, err.Error())
		return nil
	}
	var secret corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: receiverKey.Namespace, Name: tokenSecret}, &secret); err != nil {
		return fmt.Errorf("get the Receiver's Secret: %w", err)
	}
	token := string(secret.Data["token"])
	if token == "" || strings.HasPrefix(token, "ENC[") {
		e.Report.Fail(triggered, fmt.Sprintf("Secret %s/%s has no decrypted token (kustomize-controller decrypts it with the sops-age key)", receiverKey.Namespace, tokenSecret))
		return nil
	}
	var repo sourcev1.GitRepository
	if err := c.Get(ctx, fluxSource, &repo); err != nil {
		return fmt.Errorf("get GitRepository %s: %w", fluxSource, err)
	}
	interval := repo.Spec.Interval.Duration

	waitStart := time.Now()
	timerAt, err := waitIntervalFetch(ctx, c, metrics, 2*interval)
	if err != nil {
		e.Report.Fail(triggered, err.Error())
		return nil
	}
	earliest := timerAt.Add(time.Duration(float64(interval) * (1 - intervalJitter)))
	e.Report.Note("webhook proof: an interval fetch of GitRepository %s seen after %s; the next cannot come before %s",
		fluxSource, time.Since(waitStart).Round(time.Second), earliest.Format(time.TimeOnly))

	before, err := e.Repo.Head(ctx)
	if err != nil {
		return err
	}
	if _, err := e.Repo.Git(ctx, "commit", "--quiet", "--allow-empty", "-m", "e2e: an empty commit, announced by a signed push event"); err != nil {
		return err
	}
	sha, err := e.Repo.Head(ctx)
	if err != nil {
		return err
	}
	if err := e.Repo.Push(ctx); err != nil {
		return err
	}
	push := githook.Push{
		Ref: "refs/heads/" + e.Repo.Branch, Before: before, After: sha,
		Repository: githook.Repository{FullName: "homelab-gitops/homelab", CloneURL: e.RepoURL},
		HeadCommit: githook.Commit{ID: sha, Message: "e2e: an empty commit", Timestamp: time.Now().UTC()},
	}
	url := recvURL + path
	requested := func() (string, error) {
		var r sourcev1.GitRepository
		if err := c.Get(ctx, fluxSource, &r); err != nil {
			return "", fmt.Errorf("get GitRepository %s: %w", fluxSource, err)
		}
		return r.GetAnnotations()[meta.ReconcileRequestAnnotation], nil
	}
	was, err := requested()
	if err != nil {
		return err
	}

	// The Receiver answers after it has annotated the resources, so the
	// annotation is checked right after the answer.
	bad, err := githook.Send(ctx, url, "push", push, "not-"+token)
	if err != nil {
		return err
	}
	now, err := requested()
	if err != nil {
		return err
	}
	switch {
	case bad.Status != http.StatusBadRequest:
		e.Report.Fail(refused, fmt.Sprintf("POST %s signed with a wrong secret: %d %s, want 400", path, bad.Status, bad.Body))
	case now != was:
		e.Report.Fail(refused, fmt.Sprintf("refused with 400, yet GitRepository %s requestedAt changed from %q to %q", fluxSource, was, now))
	default:
		e.Report.Pass(refused, fmt.Sprintf("POST %s with X-Hub-Signature-256 of a wrong secret: 400; GitRepository %s requestedAt unchanged (%q)", path, fluxSource, was), 0)
	}

	posted := time.Now()
	good, err := githook.Send(ctx, url, "push", push, token)
	if err != nil {
		return err
	}
	if good.Status != http.StatusOK {
		e.Report.Fail(triggered, fmt.Sprintf("POST %s signed with the Receiver's token: %d %s, want 200", path, good.Status, good.Body))
		return nil
	}
	set, err := requested()
	if err != nil {
		return err
	}
	if set == was {
		e.Report.Fail(triggered, fmt.Sprintf("the Receiver answered 200 but GitRepository %s requestedAt is still %q", fluxSource, was))
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	err = proc.WaitFor(wctx, nil, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		var r sourcev1.GitRepository
		if err := c.Get(ctx, fluxSource, &r); err != nil {
			return false, err
		}
		if r.Status.Artifact == nil || !strings.HasSuffix(r.Status.Artifact.Revision, sha) {
			return false, fmt.Errorf("GitRepository %s: artifact %v, want %s", fluxSource, r.Status.Artifact, gitserver.Short(sha))
		}
		return true, nil
	})
	fetched := time.Since(posted)
	if err != nil {
		e.Report.Fail(triggered, err.Error())
		return nil
	}
	_, err = flux.WaitKustomization(wctx, c, fluxSource, flux.AppliedRevision(sha))
	applied := time.Since(posted)
	if err != nil {
		e.Report.Fail(triggered, fmt.Sprintf("fetched %s but Kustomization flux-system did not apply it: %v", gitserver.Short(sha), err))
		return nil
	}
	budget := earliest.Sub(posted)
	if applied >= budget {
		e.Report.Fail(triggered, fmt.Sprintf("commit %s applied %s after the POST; the %s interval could fetch it %s after the POST, so the Receiver is not what brought it",
			gitserver.Short(sha), applied.Round(100*time.Millisecond), interval, budget.Round(100*time.Millisecond)))
		return nil
	}
	e.Report.Pass(triggered, fmt.Sprintf("Receiver %s Ready (notification-controller), POST %s signed with the token of its SOPS Secret %s: 200; GitRepository requestedAt %q; commit %s fetched %s and applied by Kustomization flux-system %s after the POST, while the %s interval (±%.0f%% jitter) could not fetch before %s after it",
		receiverKey, path, tokenSecret, set, gitserver.Short(sha), fetched.Round(100*time.Millisecond), applied.Round(100*time.Millisecond),
		interval, intervalJitter*100, budget.Round(100*time.Millisecond)), applied)
	return nil
}

// readyReceiver waits until notification-controller has made the Receiver
// Ready at its generation and returns its webhook path and the name of its
// token Secret.
func readyReceiver(ctx context.Context, c client.Client) (path, secret string, err error) {
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(receiverGVK)
	err = proc.WaitFor(wctx, nil, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, receiverKey, u); err != nil {
			return false, err
		}
		r, err := readyCondition(u)
		if err != nil {
			return false, err
		}
		path, _, _ = unstructured.NestedString(u.Object, "status", "webhookPath")
		secret, _, _ = unstructured.NestedString(u.Object, "spec", "secretRef", "name")
		switch {
		case r.Reason == readiness.SimulatedReason:
			return false, fmt.Errorf("Receiver %s: Ready was simulated by kwok, not set by notification-controller", receiverKey)
		case r.Status != metav1.ConditionTrue || r.ObservedGeneration != u.GetGeneration() || path == "" || secret == "":
			return false, fmt.Errorf("Receiver %s: Ready=%s (%s) at generation %d of %d, webhookPath %q: %s",
				receiverKey, r.Status, r.Reason, r.ObservedGeneration, u.GetGeneration(), path, r.Message)
		}
		return true, nil
	})
	return path, secret, err
}

// readyCondition returns the Ready condition of an unstructured Flux
// object.
func readyCondition(u *unstructured.Unstructured) (metav1.Condition, error) {
	var status struct {
		Conditions []metav1.Condition `json:"conditions"`
	}
	raw, _, _ := unstructured.NestedMap(u.Object, "status")
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &status); err != nil {
		return metav1.Condition{}, fmt.Errorf("%s %s: status: %w", u.GetKind(), client.ObjectKeyFromObject(u), err)
	}
	return flux.Ready(status.Conditions), nil
}

// waitIntervalFetch waits, up to bound, for a reconciliation of the
// flux-system GitRepository that nobody requested, and returns a time
// before its end (the last poll that did not see it yet): the interval's
// timer starts again from its end.
func waitIntervalFetch(ctx context.Context, c client.Client, metrics string, bound time.Duration) (time.Time, error) {
	var repo sourcev1.GitRepository
	if err := c.Get(ctx, fluxSource, &repo); err != nil {
		return time.Time{}, fmt.Errorf("get GitRepository %s: %w", fluxSource, err)
	}
	annotation := repo.GetAnnotations()[meta.ReconcileRequestAnnotation]
	last, err := flux.ReconcileCount(ctx, metrics, sourcev1.GitRepositoryKind, fluxSource.Namespace, fluxSource.Name)
	if err != nil {
		return time.Time{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var before time.Time
	err = proc.WaitFor(wctx, nil, metricsPoll, func(ctx context.Context) (bool, error) {
		polled := time.Now()
		n, err := flux.ReconcileCount(ctx, metrics, sourcev1.GitRepositoryKind, fluxSource.Namespace, fluxSource.Name)
		if err != nil {
			return false, err
		}
		if n == last {
			before = polled
			return false, fmt.Errorf("GitRepository %s: no reconciliation since the count of %d", fluxSource, last)
		}
		if err := c.Get(ctx, fluxSource, &repo); err != nil {
			return false, err
		}
		a := repo.GetAnnotations()[meta.ReconcileRequestAnnotation]
		if a == annotation && repo.Generation == repo.Status.ObservedGeneration && !before.IsZero() {
			return true, nil
		}
		// Requested, a changed spec, or no poll just before it to bound
		// its end: wait for the next one.
		annotation, last, before = a, n, time.Time{}
		return false, fmt.Errorf("GitRepository %s: the last reconciliation was requested or not bounded", fluxSource)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("wait for an interval fetch of GitRepository %s: %w", fluxSource, err)
	}
	return before, nil
}
