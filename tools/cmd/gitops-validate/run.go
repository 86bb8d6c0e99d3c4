package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/homelab-gitops/homelab/tools/internal/diff"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/helmrender"
	"github.com/homelab-gitops/homelab/tools/internal/output"
	"github.com/homelab-gitops/homelab/tools/internal/validate"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK       = 0
	exitFindings = 1
	exitUsage    = 2
)

// options are the command's flags.
type options struct {
	output          string
	paths           multiFlag
	config          string
	policies        string
	builtinPolicies bool
	base            string
	skip            string
	charts          multiFlag
	// fetch is --fetch-charts; when not given the config decides.
	fetch       optionalBool
	fetchCache  string
	renderCache string
	verbose     bool
	profile     string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// optionalBool is a boolean flag that tells whether it was given.
type optionalBool struct{ v *bool }

func (b *optionalBool) String() string {
	if b == nil || b.v == nil {
		return ""
	}
	return strconv.FormatBool(*b.v)
}

func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.v = &v
	return nil
}

func (b *optionalBool) IsBoolFlag() bool { return true }

// usageError is a bad invocation (exit 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }

func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gitops-validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.output, "output", output.Text, "output format: "+strings.Join(output.Formats, ", "))
	fs.StringVar(&o.output, "o", output.Text, "shorthand for --output")
	fs.Var(&o.paths, "path", "entry point directory (repository-relative), repeatable; default: clusters/<name>, kubernetes/flux/cluster, FluxInstance sync.path, or entryPoints in .gitops-validate.yaml")
	fs.StringVar(&o.config, "config", "", "config file (default <repo>/.gitops-validate.yaml)")
	fs.StringVar(&o.policies, "policies", "", "Rego policy directory (default: policies/ when present, else the built-in pack; \"-\" for none)")
	fs.BoolVar(&o.builtinPolicies, "builtin-policies", true, "apply the built-in policy pack (errors as warnings) to a repository without policies of its own")
	fs.StringVar(&o.base, "base", "", "Git revision to compare with: show the diff of rendered objects per Kustomization")
	fs.StringVar(&o.skip, "skip", "", "comma-separated check classes to skip: parse, render, schema, graph, reference, secret, policy, helm, flow")
	fs.Var(&o.charts, "chart-cache", "directory of pulled Helm charts (<name>-<version>.tgz or unpacked), repeatable; added to chartCache in .gitops-validate.yaml")
	fs.Var(&o.fetch, "fetch-charts", "fetch the charts found neither in the repository nor in a chart cache from their HelmRepository/OCIRepository (anonymous; the only network access); =false turns off fetchCharts of .gitops-validate.yaml")
	fs.StringVar(&o.fetchCache, "fetch-cache", "", "directory of fetched charts (default fetchCache in .gitops-validate.yaml, else gitops-validate/charts in the user cache directory)")
	fs.StringVar(&o.renderCache, "render-cache", "", "directory of chart renders kept between runs, so that a chart is rendered again only when its inputs change (default gitops-validate/renders in the user cache directory; \"off\" renders every chart)")
	fs.BoolVar(&o.verbose, "v", false, "log progress to stderr")
	fs.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile to this file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gitops-validate [flags] [repository]\n\nRenders every Flux Kustomization like kustomize-controller and checks it offline.\nExit status: 0 no error finding, 1 error findings, 2 usage or internal error.\n\n")
		fs.PrintDefaults()
	}
	return fs
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet(&o, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	err := execute(ctx, o, fs.Args(), stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errFindings):
		return exitFindings
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "gitops-validate: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "gitops-validate: %v\n", err)
		return exitUsage
	}
}

var errFindings = errors.New("error findings")

func execute(ctx context.Context, o options, args []string, stdout, stderr io.Writer) error {
	out, err := output.Get(o.output)
	if err != nil {
		return usageError{err}
	}
	if len(args) > 1 {
		return usageError{fmt.Errorf("at most one repository directory, got %d", len(args))}
	}
	root := "."
	if len(args) == 1 {
		root = args[0]
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return usageError{fmt.Errorf("repository %q is not a directory", root)}
	}
	skip := map[finding.Class]bool{}
	for _, s := range strings.Split(o.skip, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		switch c := finding.Class(s); c {
		case finding.ClassParse, finding.ClassRender, finding.ClassSchema, finding.ClassGraph, finding.ClassReference, finding.ClassSecret, finding.ClassPolicy, finding.ClassHelm, finding.ClassFlow:
			skip[c] = true
		default:
			return usageError{fmt.Errorf("unknown check class %q in --skip", s)}
		}
	}
	if o.policies != "" && o.policies != "-" {
		// A flag path is relative to the working directory, not the repository.
		abs, err := filepath.Abs(o.policies)
		if err != nil {
			return usageError{fmt.Errorf("policies: %w", err)}
		}
		o.policies = abs
	}
	if o.profile != "" {
		f, err := os.Create(o.profile)
		if err != nil {
			return usageError{fmt.Errorf("cpuprofile: %w", err)}
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	renders := o.renderCache
	switch renders {
	case "off":
		renders = ""
	case "":
		if renders, err = helmrender.DefaultRenderCacheDir(); err != nil {
			logger.Debug("no render cache", "err", err)
		}
	default:
		if renders, err = filepath.Abs(renders); err != nil {
			return usageError{fmt.Errorf("render cache: %w", err)}
		}
	}
	opts := validate.Options{Root: root, ConfigFile: o.config, EntryPoints: o.paths, Policies: o.policies, NoBuiltinPolicies: !o.builtinPolicies,
		ChartCache: o.charts, FetchCharts: o.fetch.v, FetchCache: o.fetchCache, RenderCache: renders, Skip: skip, Logger: logger}
	rep, err := validate.Run(ctx, opts)
	if err != nil {
		return err
	}
	report := &output.Report{Findings: rep.Findings, Stats: rep.Stats, Version: version}
	if o.base != "" {
		d, err := baseDiff(ctx, o, opts, rep)
		if err != nil {
			return err
		}
		report.Diff = d
	}
	if err := out.Output(stdout, report); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if rep.Stats.Counts.Errors > 0 {
		return errFindings
	}
	return nil
}

// baseDiff renders the base revision from `git archive` in a temporary
// directory and diffs it against the head render.
func baseDiff(ctx context.Context, o options, opts validate.Options, head *validate.Report) (*diff.Report, error) {
	dir, err := os.MkdirTemp("", "gitops-validate-base-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := diff.Checkout(ctx, head.Root, o.base, dir); err != nil {
		return nil, usageError{err}
	}
	bopts := opts
	bopts.Root = dir
	bopts.Policies = "-"
	if o.config != "" {
		bopts.ConfigFile = o.config
	}
	bopts.Skip = map[finding.Class]bool{
		finding.ClassParse: true, finding.ClassSchema: true, finding.ClassGraph: true, finding.ClassReference: true,
		finding.ClassSecret: true, finding.ClassPolicy: true, finding.ClassHelm: true, finding.ClassFlow: true,
	}
	base, err := validate.Run(ctx, bopts)
	if err != nil {
		return nil, fmt.Errorf("render base %s: %w", o.base, err)
	}
	return diff.Compute(o.base, base.Clusters, head.Clusters)
}
