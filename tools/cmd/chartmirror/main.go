// Command chartmirror reproduces and verifies the repository's Helm chart
// mirror (charts/): `build` packages every chart listed in
// charts/mirror.yaml from its upstream Git repository at the pinned tag and
// commit and writes the archives and index.yaml; `verify` checks the
// committed archives against mirror.yaml without network.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/homelab-gitops/homelab/tools/internal/chartmirror"
)

type srcFlag map[string]string

func (s srcFlag) String() string { return fmt.Sprint(map[string]string(s)) }
func (s srcFlag) Set(v string) error {
	url, dir, ok := strings.Cut(v, "=")
	if !ok || url == "" || dir == "" {
		return errors.New("want <upstream URL>=<git directory>")
	}
	s[url] = dir
	return nil
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "chartmirror:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("chartmirror", flag.ContinueOnError)
	dir := fs.String("dir", "charts", "the mirror directory (mirror.yaml, archives, index.yaml)")
	srcs := srcFlag{}
	fs.Var(srcs, "src", "a local Git directory for an upstream: <URL>=<dir>, repeatable")
	var search listFlag
	fs.Var(&search, "search", "a directory of mirrored repositories (<owner>+<name>[/repo]), repeatable")
	modules := fs.Bool("modules", true, "read a chart whose source names a Go module from the module proxy when no local Git copy is found")
	cloneDir := fs.String("clone-dir", "", "clone upstreams found nowhere else into this directory (needs network)")
	update := fs.Bool("update", false, "build: record new digests in mirror.yaml instead of failing on a difference")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: chartmirror [flags] build|verify")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want one command: build or verify")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	switch fs.Arg(0) {
	case "verify":
		spec, err := chartmirror.Verify(*dir)
		if err != nil {
			return err
		}
		log.Info("chart mirror verified", "dir", *dir, "charts", len(spec.Charts))
		return nil
	case "build":
		specFile := filepath.Join(*dir, chartmirror.SpecFile)
		spec, err := chartmirror.LoadSpec(specFile)
		if err != nil {
			return err
		}
		sources := chartmirror.Sources{Dirs: srcs, SearchDirs: search, CloneDir: *cloneDir}
		if *modules {
			sources.Modules = chartmirror.GoModDownload
		}
		built, err := chartmirror.Build(ctx, sources, spec, *dir, *update)
		if err != nil {
			return err
		}
		if *update {
			if err := chartmirror.WriteDigests(specFile, built); err != nil {
				return err
			}
		}
		for _, b := range built {
			log.Info("packaged", "chart", b.Chart.Name, "version", b.Chart.Version, "tag", b.Chart.Tag, "bytes", len(b.Data), "digest", b.Digest)
		}
		_, err = chartmirror.Verify(*dir)
		return err
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q", fs.Arg(0))
	}
}
