// Command e2e runs the end-to-end test of the repository on a real
// Kubernetes API server started on loopback: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok (fake nodes), Flux's
// source-, kustomize-, helm- and notification-controller, and a local Git
// smart-HTTP server.
//
// It checks two things. With a fixture repository (tools/e2e/testdata/
// fixture) it pushes commits and checks that a change reaches the API
// within the Kustomization's interval, that a removed object is pruned, and
// that a broken commit, flagged by the validator before the push, leaves the
// Kustomization not Ready with the error. With a clone of this repository it
// applies clusters/homelab's sync objects pointed at the local server and
// reports, Kustomization by Kustomization, what converged and, for what did
// not, why (a chart or a Git source that cannot be fetched offline, an
// operator that does not run here).
//
// The binaries come from tools/e2e/build.sh; scripts/e2e.sh builds and runs
// everything. Every process the test starts is stopped at the end, also on
// failure, timeout or Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/cluster"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/cni"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/fixture"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/flux"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/gitserver"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/homelab"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/proc"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/proofs"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/readiness"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/report"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/validator"
)

type options struct {
	cacheDir      string
	repoDir       string
	validator     string
	validatorArgs string
	ageKey        string
	workDir       string
	keep          bool
	timeout       time.Duration
	fixture       bool
	homelab       bool
	proofs        bool
	verbose       bool
	hold          bool
	// chartsDir is the chart mirror the chart server serves.
	chartsDir string
	// simulatedStatus is the kwok stages file for operator-managed kinds.
	simulatedStatus string
	// readyTimeout bounds the wait for the whole tree to be Ready.
	readyTimeout time.Duration
	// unschedulableFor is how long a rollout's new pod may stay
	// unschedulable before the rollout counts as deadlocked.
	unschedulableFor time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.cacheDir, "cache", "", "directory made by tools/e2e/build.sh (bin/, crds/, kwok/)")
	flag.StringVar(&o.repoDir, "repo", ".", "root of this repository")
	flag.StringVar(&o.validator, "validator", "", "gitops-validate binary, run on the broken commit before it is pushed")
	flag.StringVar(&o.validatorArgs, "validator-args", "--output text .", "arguments for the validator, which runs in the root of the fixture repository")
	flag.StringVar(&o.ageKey, "age-key", "tools/internal/treetest/testdata/sops/TEST-ONLY-age.agekey", "TEST ONLY age identity for the flux-system/sops-age Secret (relative to -repo)")
	flag.StringVar(&o.workDir, "work", "", "working directory (default: a new temporary directory)")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory (logs, kubeconfig) after the run")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "bound on the whole run")
	flag.BoolVar(&o.fixture, "fixture", true, "run the push, prune and broken-commit flows on the fixture repository")
	flag.BoolVar(&o.homelab, "homelab", true, "reconcile clusters/homelab from a clone of this repository")
	flag.BoolVar(&o.proofs, "proofs", true, "after clusters/homelab is Ready, push the prune, broken-chart and Traefik rollout changes through Git")
	flag.StringVar(&o.chartsDir, "charts", "", "chart mirror served to Flux: index.yaml and the archives (default: charts/ of the commit under test)")
	flag.StringVar(&o.simulatedStatus, "simulated-status", "tools/e2e/kwok/simulated-status.yaml", "kwok stages simulating the status of operator-managed kinds (relative to -repo)")
	flag.DurationVar(&o.readyTimeout, "ready-timeout", 10*time.Minute, "bound on the wait for every Kustomization and HelmRelease of clusters/homelab to be Ready")
	flag.DurationVar(&o.unschedulableFor, "unschedulable-for", 45*time.Second, "how long a rollout's new pod may stay unschedulable before the rollout counts as deadlocked")
	flag.BoolVar(&o.verbose, "v", false, "debug logging")
	flag.BoolVar(&o.hold, "hold", false, "after the checks, keep the cluster and the Git server running until Ctrl-C, to push by hand")
	flag.Parse()
	os.Exit(run(o))
}

func run(o options) int {
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// controller-runtime's clients log through their own logger, which
	// otherwise prints a stack trace to say it was never set.
	ctrllog.SetLogger(logr.FromSlogHandler(log.Handler()))
	if o.cacheDir == "" {
		log.Error("-cache is required (the directory printed by tools/e2e/build.sh)")
		return 2
	}
	repo, err := filepath.Abs(o.repoDir)
	if err != nil {
		log.Error("resolve -repo", "err", err)
		return 2
	}
	o.repoDir = repo
	if o.validator != "" {
		// It runs in the fixture's directory.
		if o.validator, err = filepath.Abs(o.validator); err != nil {
			log.Error("resolve -validator", "err", err)
			return 2
		}
	}
	if o.chartsDir != "" {
		if o.chartsDir, err = filepath.Abs(o.chartsDir); err != nil {
			log.Error("resolve -charts", "err", err)
			return 2
		}
	}
	for _, p := range []*string{&o.ageKey, &o.simulatedStatus} {
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(repo, *p)
		}
	}

	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(sigCtx, o.timeout)
	defer cancel()

	work := o.workDir
	if work == "" {
		work, err = os.MkdirTemp("", "homelab-e2e-")
		if err != nil {
			log.Error("create working directory", "err", err)
			return 1
		}
	}
	if !o.keep {
		defer os.RemoveAll(work)
	}
	logDir := filepath.Join(work, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		log.Error("create log directory", "err", err)
		return 1
	}

	rep := report.New(os.Stdout)
	g := proc.NewGroup(logDir, log)
	start := time.Now()
	err = runAll(ctx, sigCtx, o, work, g, rep, log)
	g.Stop()
	if left := g.Pids(); len(left) > 0 {
		rep.Fail("processes stopped", fmt.Sprintf("still running: %v", left))
	}
	if err != nil {
		rep.Fail("run", err.Error())
		if errors.Is(err, context.DeadlineExceeded) {
			log.Error("the run hit its time bound", "timeout", o.timeout)
		}
		log.Error("e2e failed; process logs are kept", "logs", logDir)
		o.keep = true
	}
	rep.Summary(time.Since(start))
	if o.keep {
		fmt.Fprintf(os.Stdout, "working directory kept: %s\n", work)
	}
	if rep.Failed() > 0 {
		return 1
	}
	return 0
}

// env is what the scenarios share: the clusters, the Git server, the paths.
type env struct {
	o      options
	work   string
	binDir string
	g      *proc.Group
	git    *gitserver.Server
	rep    *report.Report
	log    *slog.Logger
	// install is what the tree's flux-system directory installs.
	install *flux.Install
}

// fluxSystemDir is where bootstrap writes Flux's install manifests.
const fluxSystemDir = homelab.Cluster + "/flux-system"

// stack is one cluster with Flux running against it. The fixture and
// clusters/homelab each get their own, since both bootstrap with the
// conventional flux-system names.
type stack struct {
	name    string
	cluster *cluster.Cluster
	c       client.Client
	// flux holds the addresses of its Flux controllers.
	flux flux.Endpoints
}

// startStack starts a cluster named name with Flux's CRDs and controllers.
func (e *env) startStack(ctx context.Context, name string) (*stack, error) {
	t := time.Now()
	work := filepath.Join(e.work, name)
	cl, err := cluster.Start(ctx, e.g, cluster.Config{
		Name:       name,
		BinDir:     e.binDir,
		KwokStages: filepath.Join(e.o.cacheDir, "kwok", "stages.yaml"),
		WorkDir:    work,
		Nodes:      cluster.SeedTopology(),
	}, e.log)
	if err != nil {
		return nil, fmt.Errorf("start cluster %s: %w", name, err)
	}
	// What bootstrap would install: the CRDs of the tree's
	// gotk-components.yaml, and the controllers with the feature gates
	// its patches set.
	if err := kube.ApplyCRDs(ctx, cl.Client, e.install.CRDs); err != nil {
		return nil, fmt.Errorf("install Flux CRDs in %s: %w", name, err)
	}
	ep, err := flux.Start(ctx, e.g, name, e.binDir, work, cl.Kubeconfig, flux.Default, e.install.Args, e.log)
	if err != nil {
		return nil, fmt.Errorf("start Flux in %s: %w", name, err)
	}
	var ctrls []string
	for _, c := range flux.Default {
		ctrls = append(ctrls, strings.TrimSpace(c+" "+strings.Join(e.install.Args[c], " ")))
	}
	e.rep.Pass(name+": cluster and Flux up", fmt.Sprintf("etcd, kube-apiserver %s, controller-manager, scheduler, kwok (%s); %d Flux CRDs from %s; %s",
		cl.Server, topology(cluster.SeedTopology()), len(e.install.CRDs), fluxSystemDir+"/gotk-components.yaml", strings.Join(ctrls, ", ")), time.Since(t))
	return &stack{name: name, cluster: cl, c: cl.Client, flux: ep}, nil
}

// validator is the validator the fixture and the proofs run before a push.
func (e *env) validator() validator.Validator {
	return validator.Validator{Bin: e.o.validator, Args: strings.Fields(e.o.validatorArgs)}
}

// runAll runs the checks within ctx; with -hold it then waits for holdCtx
// (Ctrl-C) before returning.
func runAll(ctx, holdCtx context.Context, o options, work string, g *proc.Group, rep *report.Report, log *slog.Logger) error {
	e := &env{o: o, work: work, binDir: filepath.Join(o.cacheDir, "bin"), g: g, rep: rep, log: log}
	var err error
	if e.install, err = flux.ReadInstall(filepath.Join(o.repoDir, fluxSystemDir)); err != nil {
		return err
	}
	e.git, err = gitserver.Start(ctx, filepath.Join(work, "git"), log)
	if err != nil {
		return fmt.Errorf("start git server: %w", err)
	}
	defer e.git.Close()

	// clusters/homelab reconciles in its own cluster while the fixture
	// flows run; it is checked after them.
	var hs *stack
	var hl *homelab.Homelab
	var sim *readiness.Simulator
	if o.homelab {
		if hs, err = e.startStack(ctx, "homelab"); err != nil {
			return err
		}
		hl, err = homelab.Start(ctx, homelab.Env{
			Client: hs.c, Git: e.git, RepoDir: o.repoDir, WorkDir: work,
			ChartsDir: o.chartsDir, AgeKey: o.ageKey, Log: log,
		})
		if err != nil {
			return fmt.Errorf("homelab: %w", err)
		}
		// Before the process group stops: no kwok may start after that.
		defer hl.Close()
		if sim, err = readiness.StartSimulator(ctx, hs.cluster, g, e.binDir, o.simulatedStatus, log); err != nil {
			return fmt.Errorf("homelab: %w", err)
		}
		defer sim.Stop()
	}
	var fx *stack
	if o.fixture {
		if fx, err = e.startStack(ctx, "fixture"); err != nil {
			return err
		}
		err := fixture.Run(ctx, fixture.Env{
			Client: fx.c, Git: e.git, RepoDir: o.repoDir, WorkDir: work,
			Validator: e.validator(), Report: rep,
		})
		if err != nil {
			return fmt.Errorf("fixture: %w", err)
		}
	}
	if hl != nil {
		if err := e.checkHomelab(ctx, hs, hl, sim); err != nil {
			return fmt.Errorf("homelab: %w", err)
		}
	}
	for _, s := range []*stack{fx, hs} {
		if s == nil {
			continue
		}
		if err := e.fluxGet(ctx, s, os.Stdout); err != nil {
			return err
		}
	}
	if o.hold {
		e.holdForUser(holdCtx, fx, hs)
	}
	return nil
}

// checkHomelab waits for flux-system to apply the clone's commit, then for
// the whole tree to be Ready, prints `flux get` for Kustomizations and
// HelmReleases, and runs the proofs.
func (e *env) checkHomelab(ctx context.Context, s *stack, hl *homelab.Homelab, sim *readiness.Simulator) error {
	if !hl.WaitSynced(ctx, s.c, e.rep) {
		return nil
	}
	ready, err := readiness.Wait(ctx, e.rep, readiness.Tree{
		Client: s.c, Commit: hl.Commit, Expected: hl.Expected, Started: hl.Started, Sim: sim,
	}, e.o.readyTimeout)
	if err != nil || !ready {
		return err
	}
	cni.CheckAdopted(ctx, s.c, e.rep, hl.CNI)
	e.rep.Note("volumes of StorageClass %s (WaitForFirstConsumer) created by the driver in place of the nodes' local-path provisioner, once the scheduler chose a node; bound by kube-controller-manager: %s",
		hl.Volumes.Class, strings.Join(hl.Volumes.Provisioned(), ", "))
	if err := e.printTables(ctx, s); err != nil {
		return err
	}
	if !e.o.proofs {
		return nil
	}
	return proofs.Run(ctx, proofs.Env{
		Client: s.c, Repo: hl.Repo, Validator: e.validator(), Report: e.rep, UnschedulableFor: e.o.unschedulableFor,
		Flux: s.flux, RepoURL: e.git.RepoURL("homelab"),
	})
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
			out, err = flux.Table(ctx, s.c, args[1])
		}
		fmt.Printf("\n[%s] $ flux %s\n%s\n", s.name, strings.Join(args, " "), out)
		if err != nil {
			return err
		}
	}
	return nil
}

// topology describes the fake nodes for the report.
func topology(nodes []cluster.Node) string {
	var cp, workers []string
	for _, n := range nodes {
		if n.ControlPlane {
			cp = append(cp, n.Name+"@"+n.Zone)
		} else {
			workers = append(workers, n.Name+"@"+n.Zone)
		}
	}
	return fmt.Sprintf("%d Ready nodes: control plane %s, tainted %s:%s; workers %s", len(nodes),
		strings.Join(cp, " "), cluster.ControlPlaneTaint.Key, cluster.ControlPlaneTaint.Effect, strings.Join(workers, " "))
}

// fluxGet prints what `flux get` shows for the whole cluster of s; without
// the flux CLI, the Kustomization and HelmRelease tables from the API.
func (e *env) fluxGet(ctx context.Context, s *stack, w io.Writer) error {
	if _, err := os.Stat(filepath.Join(e.binDir, "flux")); err != nil {
		return e.printTables(ctx, s)
	}
	cmds := [][]string{
		{"get", "sources", "git", "-A"},
		{"get", "kustomizations", "-A"},
	}
	if s.name == "homelab" {
		cmds = append(cmds, []string{"get", "sources", "helm", "-A"}, []string{"get", "helmreleases", "-A"})
	}
	for _, args := range cmds {
		out, err := e.flux(ctx, s, args...)
		fmt.Fprintf(w, "\n[%s] $ flux %s\n%s", s.name, strings.Join(args, " "), out)
		if err != nil {
			return err
		}
	}
	return nil
}

// flux runs the flux CLI against the cluster of s.
func (e *env) flux(ctx context.Context, s *stack, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.binDir, "flux"), append(args, "--kubeconfig="+s.cluster.Kubeconfig)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("flux %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// holdForUser prints how to use the running clusters and Git server and
// waits for Ctrl-C.
func (e *env) holdForUser(ctx context.Context, stacks ...*stack) {
	fmt.Println("\nThe clusters and the Git server keep running until Ctrl-C.")
	for _, s := range stacks {
		if s == nil {
			continue
		}
		fmt.Printf("  %s: export KUBECONFIG=%s; %s get kustomizations -A --watch\n", s.name, s.cluster.Kubeconfig, filepath.Join(e.binDir, "flux"))
	}
	fmt.Println("Push to deploy: clone a served repository, change, commit, git push.")
	for _, s := range stacks {
		switch {
		case s == nil:
		case s.name == "fixture":
			fmt.Printf("  fixture: git clone %s   (apps/web is the web app)\n", e.git.RepoURL("fixture"))
		case s.name == "homelab":
			fmt.Printf("  homelab: git clone %s   (this repository's HEAD plus one commit pointing its sources at the local server)\n", e.git.RepoURL("homelab"))
		}
	}
	<-ctx.Done()
}
